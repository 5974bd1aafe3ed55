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
	// A file written before targets existed holds opacity rows.
	if len(recs) != 2 || recs[0] != (EpochRecord{1, "train", "opacity", 0.9, 0.2, 0.3, 0.33}) || recs[1].Split != "test" || !math.IsNaN(recs[1].IoUPerImage) {
		t.Errorf("got %+v", recs)
	}
	in = "split,epoch,target,loss,iou_soft_pooled,iou_per_image,f1,extra\ntest,3,lungs,0.5,0.9,0.95,0.96,x\n"
	recs, err = ParseMetricsCSV(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 || recs[0] != (EpochRecord{3, "test", "lungs", 0.5, 0.9, 0.95, 0.96}) {
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
		"epoch,split,target,loss,iou_soft_pooled,iou_per_image,f1\n1,train,,1,1,1,1\n",
	} {
		if _, err := ParseMetricsCSV(strings.NewReader(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestFormatMetricsCSV(t *testing.T) {
	recs := []EpochRecord{
		{Epoch: 1, Split: "train", Target: "opacity", Loss: 0.912345678, IoUSoftPooled: 0.25, IoUPerImage: math.NaN(), F1: 1e-7},
		{Epoch: 1, Split: "test", Target: "lungs", Loss: 2, IoUSoftPooled: 0, IoUPerImage: 0.5, F1: 0.125},
	}
	want := "epoch,split,target,loss,iou_soft_pooled,iou_per_image,f1\n" +
		"1,train,opacity,0.912346,0.25,,1e-07\n" +
		"1,test,lungs,2,0,0.5,0.125\n"
	got := string(FormatMetricsCSV(recs))
	if got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
	back, err := ParseMetricsCSV(strings.NewReader(got))
	if err != nil {
		t.Fatal(err)
	}
	if len(back) != 2 || back[1] != recs[1] || back[0].Target != "opacity" || !math.IsNaN(back[0].IoUPerImage) || back[0].Loss != 0.912346 {
		t.Errorf("read back %+v", back)
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
			if r.Split == "" || r.Epoch < 0 || r.Target == "" {
				t.Fatalf("accepted bad record %+v", r)
			}
		}
	})
}
