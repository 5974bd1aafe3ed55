package datasets

import (
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets/mask"
)

func TestParseTargets(t *testing.T) {
	tests := []struct {
		in   string
		want []string
		err  string
	}{
		{"opacity", []string{"opacity"}, ""},
		{" lungs , opacity ", []string{"lungs", "opacity"}, ""},
		{"opacity,lungs", []string{"opacity", "lungs"}, ""},
		{"", nil, "no target"},
		{",", nil, "no target"},
		{"heart", nil, `"heart"`},
		{"lungs,lungs", nil, "twice"},
	}
	for _, tc := range tests {
		got, err := ParseTargets(tc.in)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%q: err %v, want %q", tc.in, err, tc.err)
			}
			continue
		}
		if err != nil || strings.Join(got, ",") != strings.Join(tc.want, ",") {
			t.Errorf("%q: %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

func TestSampleMaskAndBothLungs(t *testing.T) {
	right, left := &mask.Mask{Width: 2, Height: 1, Pix: []uint8{1, 0}}, &mask.Mask{Width: 2, Height: 1, Pix: []uint8{0, 1}}
	lung, op := &mask.Mask{Width: 2, Height: 1, Pix: []uint8{1, 1}}, &mask.Mask{Width: 2, Height: 1, Pix: []uint8{1, 0}}
	s := &Sample{Lung: lung, Opacity: op, Classes: map[string]*mask.Mask{LabelRightLung: right, "Heart": op}}
	if s.Mask(TargetLungs) != lung || s.Mask(TargetOpacity) != op || s.Mask("Heart") != op || s.Mask("x") != nil {
		t.Error("Mask does not return the named masks")
	}
	if s.BothLungs() {
		t.Error("only a right lung: BothLungs true")
	}
	s.Classes[LabelLeftLung] = mask.New(2, 1)
	if s.BothLungs() {
		t.Error("empty left lung: BothLungs true")
	}
	s.Classes[ClassLeftLung] = left // cxr-seg naming counts too
	if !s.BothLungs() {
		t.Error("right_lung and Left Lung: BothLungs false")
	}
}
