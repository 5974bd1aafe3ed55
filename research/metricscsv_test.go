package research

import (
	"math"
	"strings"
	"testing"
)

func TestParseMetricsCSV(t *testing.T) {
	in := "epoch,split,loss,iou_soft_pooled,iou_per_image,f1\n1,train,0.9,0.2,0.3,0.33\n1,test,1.1,0.1,,0.2\n"
	recs, err := ParseMetricsCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 2 || recs[0] != (EpochRecord{1, "train", 0.9, 0.2, 0.3, 0.33}) || recs[1].Split != "test" || !math.IsNaN(recs[1].IoUPerImage) {
		t.Errorf("got %+v", recs)
	}
	for _, bad := range []string{
		"",
		"epoch,split,loss\n1,train,0.5\n",
		"epoch,split,loss,iou_soft_pooled,iou_per_image,f1\nx,train,1,1,1,1\n",
		"epoch,split,loss,iou_soft_pooled,iou_per_image,f1\n1,train,abc,1,1,1\n",
		"epoch,split,loss,iou_soft_pooled,iou_per_image,f1\n1,train,1,1\n",
		"epoch,split,loss,iou_soft_pooled,iou_per_image,f1\n1,,1,1,1,1\n",
		"epoch,split,loss,iou_soft_pooled,iou_per_image,f1\n1,train,Inf,1,1,1\n",
	} {
		if _, err := ParseMetricsCSV(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func FuzzParseMetricsCSV(f *testing.F) {
	f.Add("epoch,split,loss,iou_soft_pooled,iou_per_image,f1\n1,train,0.9,0.2,0.3,0.33\n")
	f.Add("epoch,split,loss,iou_soft_pooled,iou_per_image,f1\n1,test,1e9,,NaN,0\n")
	f.Fuzz(func(t *testing.T, s string) {
		recs, err := ParseMetricsCSV(strings.NewReader(s))
		if err != nil {
			return
		}
		for _, r := range recs {
			if r.Split == "" || r.Epoch < 0 {
				t.Fatalf("accepted bad record %+v", r)
			}
		}
	})
}
