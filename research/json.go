package research

import (
	"encoding/json"
	"math"
)

// num is a float64 that encodes NaN and infinities as JSON null.
type num float64

func (v num) MarshalJSON() ([]byte, error) {
	f := float64(v)
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return json.Marshal(f)
}

// MarshalJSON encodes the options with snake_case keys.
func (o MetricOptions) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Threshold num `json:"threshold"`
		Smooth    num `json:"smooth"`
		MinArea   int `json:"min_area"`
	}{num(o.Threshold), num(o.Smooth), o.MinArea})
}

// MarshalJSON encodes the detection counts with snake_case keys; undefined
// rates are null.
func (d Detection) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		MinArea     int `json:"min_area"`
		TP          int `json:"tp"`
		FP          int `json:"fp"`
		TN          int `json:"tn"`
		FN          int `json:"fn"`
		Sensitivity num `json:"sensitivity"`
		Specificity num `json:"specificity"`
	}{d.MinArea, d.TP, d.FP, d.TN, d.FN, num(d.Sensitivity), num(d.Specificity)})
}

// MarshalJSON encodes the scores with one key per convention; undefined
// scores are null.
func (s Scores) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Images        int       `json:"images"`
		SoftPooledIoU num       `json:"iou_a_soft_pooled"`
		SoftPooledF1  num       `json:"f1_a_soft_pooled"`
		HardPooledIoU num       `json:"iou_b_hard_pooled"`
		HardPooledF1  num       `json:"f1_b_hard_pooled"`
		PerImageIoU   num       `json:"iou_c_per_image"`
		PerImageF1    num       `json:"f1_c_per_image"`
		NonEmptyIoU   num       `json:"iou_d_non_empty_truth"`
		NonEmptyF1    num       `json:"f1_d_non_empty_truth"`
		NonEmptyN     int       `json:"n_d"`
		NaNAwareIoU   num       `json:"iou_e_nan_aware"`
		NaNAwareF1    num       `json:"f1_e_nan_aware"`
		NaNAwareN     int       `json:"n_e"`
		Detection     Detection `json:"detection"`
	}{s.Images, num(s.SoftPooledIoU), num(s.SoftPooledF1), num(s.HardPooledIoU), num(s.HardPooledF1),
		num(s.PerImageIoU), num(s.PerImageF1), num(s.NonEmptyIoU), num(s.NonEmptyF1), s.NonEmptyN,
		num(s.NaNAwareIoU), num(s.NaNAwareF1), s.NaNAwareN, s.Detection})
}

// MarshalJSON encodes the adjusted-IoU comparison with snake_case keys;
// undefined values are null.
func (a Adjusted) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		N                       int `json:"n"`
		NEmpty                  int `json:"n_empty"`
		NNonEmpty               int `json:"n_not_empty"`
		NonEmptyIoU             num `json:"iou_a_not_empty"`
		EmptyIoU                num `json:"iou_a_empty"`
		Paper                   num `json:"paper_adjusted"`
		EmptyPredictedEmpty     int `json:"empty_predicted_empty"`
		EmptyScoredByPrediction num `json:"adjusted_empty_scored_by_prediction"`
		PerImage                num `json:"iou_c_per_image"`
		NaNAware                num `json:"iou_e_nan_aware"`
		SoftPooledAll           num `json:"iou_a_all"`
	}{a.N, a.NEmpty, a.NNonEmpty, num(a.NonEmptyIoU), num(a.EmptyIoU), num(a.Paper), a.EmptyPredictedEmpty,
		num(a.EmptyScoredByPrediction), num(a.PerImage), num(a.NaNAware), num(a.SoftPooledAll)})
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
