package paper

import (
	"fmt"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/mask"
	"github.com/covidxray/opacity/datasets/transform"
	"github.com/covidxray/opacity/experiment"
)

func TestPickWorst(t *testing.T) {
	// kinds: 'o' an image with manual opacity, 'c' clear lungs; in ranking order.
	mk := func(kinds string) []ranked {
		var rs []ranked
		for i, k := range kinds {
			m := mask.New(2, 2)
			if k == 'o' {
				m.Pix[0] = 1
			}
			rs = append(rs, ranked{it: &experiment.Item{Stem: fmt.Sprint(i), Input: &transform.Prepared{Size: 2, Masks: map[string]*mask.Mask{datasets.TargetOpacity: m}}}})
		}
		return rs
	}
	for _, tc := range []struct {
		kinds string
		n     int
		want  string // stems picked, in ranking order
	}{
		{"ccccoooo", 4, "0 1 4 5"}, // two of each
		{"occcccco", 4, "0 1 2 7"}, // two opaque (0, 7), two clear (1, 2)
		{"cccccc", 4, "0 1 2 3"},   // only clear images
		{"ooc", 8, "0 1 2"},        // fewer than n
		{"ccccccco", 4, "0 1 2 7"}, // one opaque: three clear
		{"oooooooc", 3, "0 1 7"},   // n odd: one clear, two opaque
		{"", 4, ""},                // nothing to rank
	} {
		var got []string
		for _, x := range pickWorst(mk(tc.kinds), tc.n) {
			got = append(got, x.it.Stem)
		}
		if g := strings.Join(got, " "); g != tc.want {
			t.Errorf("pickWorst(%q, %d) = %q, want %q", tc.kinds, tc.n, g, tc.want)
		}
	}
}
