package research

import (
	"encoding/json"

	"github.com/covidxray/opacity/num"
)

// MarshalJSON encodes the options with snake_case keys.
func (o MetricOptions) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Threshold *float64 `json:"threshold"`
		Smooth    *float64 `json:"smooth"`
		MinArea   int      `json:"min_area"`
	}{num.Nullable(o.Threshold), num.Nullable(o.Smooth), o.MinArea})
}

// MarshalJSON encodes the detection counts with snake_case keys; undefined
// rates are null.
func (d Detection) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		MinArea     int      `json:"min_area"`
		TP          int      `json:"tp"`
		FP          int      `json:"fp"`
		TN          int      `json:"tn"`
		FN          int      `json:"fn"`
		Sensitivity *float64 `json:"sensitivity"`
		Specificity *float64 `json:"specificity"`
	}{d.MinArea, d.TP, d.FP, d.TN, d.FN, num.Nullable(d.Sensitivity), num.Nullable(d.Specificity)})
}

// MarshalJSON encodes the scores with one key per convention; undefined
// scores are null.
func (s Scores) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Images        int       `json:"images"`
		SoftPooledIoU *float64  `json:"iou_a_soft_pooled"`
		SoftPooledF1  *float64  `json:"f1_a_soft_pooled"`
		HardPooledIoU *float64  `json:"iou_b_hard_pooled"`
		HardPooledF1  *float64  `json:"f1_b_hard_pooled"`
		PerImageIoU   *float64  `json:"iou_c_per_image"`
		PerImageF1    *float64  `json:"f1_c_per_image"`
		NonEmptyIoU   *float64  `json:"iou_d_non_empty_truth"`
		NonEmptyF1    *float64  `json:"f1_d_non_empty_truth"`
		NonEmptyN     int       `json:"n_d"`
		NaNAwareIoU   *float64  `json:"iou_e_nan_aware"`
		NaNAwareF1    *float64  `json:"f1_e_nan_aware"`
		NaNAwareN     int       `json:"n_e"`
		Detection     Detection `json:"detection"`
	}{s.Images, num.Nullable(s.SoftPooledIoU), num.Nullable(s.SoftPooledF1), num.Nullable(s.HardPooledIoU), num.Nullable(s.HardPooledF1),
		num.Nullable(s.PerImageIoU), num.Nullable(s.PerImageF1), num.Nullable(s.NonEmptyIoU), num.Nullable(s.NonEmptyF1), s.NonEmptyN,
		num.Nullable(s.NaNAwareIoU), num.Nullable(s.NaNAwareF1), s.NaNAwareN, s.Detection})
}

// MarshalJSON encodes the adjusted-IoU comparison with snake_case keys;
// undefined values are null.
func (a Adjusted) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		N                       int      `json:"n"`
		NEmpty                  int      `json:"n_empty"`
		NNonEmpty               int      `json:"n_not_empty"`
		NonEmptyIoU             *float64 `json:"iou_a_not_empty"`
		EmptyIoU                *float64 `json:"iou_a_empty"`
		Paper                   *float64 `json:"paper_adjusted"`
		EmptyPredictedEmpty     int      `json:"empty_predicted_empty"`
		EmptyScoredByPrediction *float64 `json:"adjusted_empty_scored_by_prediction"`
		PerImage                *float64 `json:"iou_c_per_image"`
		NaNAware                *float64 `json:"iou_e_nan_aware"`
		SoftPooledAll           *float64 `json:"iou_a_all"`
	}{a.N, a.NEmpty, a.NNonEmpty, num.Nullable(a.NonEmptyIoU), num.Nullable(a.EmptyIoU), num.Nullable(a.Paper), a.EmptyPredictedEmpty,
		num.Nullable(a.EmptyScoredByPrediction), num.Nullable(a.PerImage), num.Nullable(a.NaNAware), num.Nullable(a.SoftPooledAll)})
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }
