package transform

import (
	"testing"

	"github.com/covidxray/opacity/datasets"
)

func TestFramingFor(t *testing.T) {
	for _, tc := range []struct {
		targets []string
		want    Framing
	}{
		{[]string{datasets.TargetOpacity}, FrameLungCrop},
		{[]string{datasets.TargetLungs}, FrameWhole},
		{[]string{datasets.TargetLungs, datasets.TargetOpacity}, FrameWhole},
	} {
		if got := FramingFor(tc.targets); got != tc.want {
			t.Errorf("%v: %s, want %s", tc.targets, got, tc.want)
		}
	}
}
