package research

import (
	"encoding/json"
	"math"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
)

func sample(cohort, stem string, lung, op []uint8) *datasets.Sample {
	return &datasets.Sample{Cohort: cohort, File: stem + ".x", Stem: stem,
		Lung:    &mask.Mask{Width: len(lung), Height: 1, Pix: lung},
		Opacity: &mask.Mask{Width: len(op), Height: 1, Pix: op}}
}

func TestCompareAnnotationsByHand(t *testing.T) {
	a := []*datasets.Sample{
		sample("cohen", "s1", []uint8{1, 1, 1, 1}, []uint8{1, 1, 0, 0}),
		sample("cohen", "s2", []uint8{1, 1, 0, 0}, []uint8{0, 0, 0, 0}),
		sample("cohen", "s3", []uint8{0, 0, 1, 1}, []uint8{1, 1, 0, 0}),
		sample("cohen", "s4", []uint8{1, 1, 1, 1}, []uint8{1, 1, 0, 0}), // only in a
		sample("cohen", "s5", []uint8{1, 1, 1, 1}, []uint8{1, 1, 0, 0}), // grids differ
		sample("cohen", "s6", []uint8{0, 0, 0, 0}, []uint8{1, 1, 0, 0}), // no lungs
	}
	b := []*datasets.Sample{
		sample("cxr-seg", "s3", []uint8{0, 0, 1, 1}, []uint8{0, 0, 0, 1}),
		sample("cxr-seg", "s1", []uint8{0, 1, 1, 1}, []uint8{0, 1, 1, 0}),
		sample("cxr-seg", "s2", []uint8{1, 1, 0, 0}, []uint8{0, 0, 0, 0}),
		sample("cxr-seg", "s5", []uint8{1, 1, 1}, []uint8{1, 1, 0}),
		sample("cxr-seg", "s6", []uint8{1, 1, 0, 0}, []uint8{1, 1, 0, 0}),
	}
	ag := CompareAnnotations(a, b)
	// s1: lungs 1111 vs 0111 -> 3/4; opacity in lungs 1100 vs 0110 -> 1/3;
	//     percentages 2/4 = 50, 2/3 = 66.67.
	// s2: lungs equal -> 1; no opacity in either -> 1 (both clear); 0, 0.
	// s3: a's opacity lies outside its lungs: 0000 vs 0001 -> 0/1 = 0; 0, 50.
	want := []AgreementImage{
		{"s1", 0.75, 1.0 / 3, 50, 200.0 / 3},
		{"s2", 1, 1, 0, 0},
		{"s3", 1, 0, 0, 50},
	}
	if ag.Pairs != 3 || len(ag.Images) != 3 {
		t.Fatalf("pairs %d, images %+v, errors %v", ag.Pairs, ag.Images, ag.Errors)
	}
	for i, w := range want {
		g := ag.Images[i]
		if g.Image != w.Image || !near(g.LungIoU, w.LungIoU, 1e-12) || !near(g.OpacityIoU, w.OpacityIoU, 1e-12) || !near(g.OpacityPctA, w.OpacityPctA, 1e-12) || !near(g.OpacityPctB, w.OpacityPctB, 1e-12) {
			t.Errorf("image %d = %+v, want %+v", i, g, w)
		}
	}
	// Means: lungs (0.75+1+1)/3, opacity (1/3+1+0)/3.
	if !near(ag.LungIoUMean, 2.75/3, 1e-12) || !near(ag.OpacityIoUMean, (4.0/3)/3, 1e-12) {
		t.Errorf("means %v %v", ag.LungIoUMean, ag.OpacityIoUMean)
	}
	// Spearman: a = 50, 0, 0 -> ranks 3, 1.5, 1.5; b = 66.7, 0, 50 -> 3, 1, 2.
	// dx = 1, -.5, -.5; dy = 1, -1, 0; Σdxdy = 1.5, Σdx² = 1.5, Σdy² = 2:
	// rho = 1.5/sqrt(3) = 0.866025.
	if !near(ag.OpacityPctSpearman, 1.5/math.Sqrt(3), 1e-12) {
		t.Errorf("spearman %v, want 0.866025", ag.OpacityPctSpearman)
	}
	if len(ag.BothClear) != 1 || ag.BothClear[0] != "s2" {
		t.Errorf("both clear %v, want [s2]", ag.BothClear)
	}
	if len(ag.Errors) != 2 || !strings.Contains(ag.Errors[0].Error, "different pixel grids") || !strings.Contains(ag.Errors[1].Error, "lung mask is empty") {
		t.Errorf("errors %v, want the s5 grid mismatch and s6's empty lungs", ag.Errors)
	}
	js, err := json.Marshal(ag)
	if err != nil {
		t.Fatal(err)
	}
	var back map[string]any
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"pairs", "lung_iou_mean", "opacity_iou_mean", "opacity_pct_spearman", "images"} {
		if _, ok := back[k]; !ok {
			t.Errorf("JSON lacks %q: %s", k, js)
		}
	}
	if len(back) != 5 {
		t.Errorf("JSON has %d keys, want 5: %s", len(back), js)
	}
	// No pair at all: zero pairs, null means, still valid JSON.
	empty := CompareAnnotations(a[:1], b[:1])
	if empty.Pairs != 0 {
		t.Errorf("pairs %d, want 0", empty.Pairs)
	}
	if js, err := json.Marshal(empty); err != nil || !strings.Contains(string(js), `"lung_iou_mean":null`) {
		t.Errorf("empty agreement JSON %s, %v", js, err)
	}
}
