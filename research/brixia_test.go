package research

import (
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

var (
	negInf = math.Inf(-1)
	posInf = math.Inf(1)
)

// zoneAbsError is sum |t.Score(share) - score| over the pairs with a share.
func zoneAbsError(t ZoneThresholds, shares, scores []float64) float64 {
	sum := 0.0
	for i, x := range shares {
		if !math.IsNaN(x) {
			sum += math.Abs(float64(t.Score(x)) - scores[i])
		}
	}
	return sum
}

func TestZoneThresholdsScore(t *testing.T) {
	th := ZoneThresholds{0.1, 0.3, 0.6}
	tests := []struct {
		share float64
		want  int
	}{
		{0, 0}, {0.1, 0}, {0.1000001, 1}, {0.3, 1}, {0.31, 2}, {0.6, 2}, {0.61, 3}, {1, 3},
		{math.NaN(), 0}, {-1, 0},
	}
	for _, tt := range tests {
		if got := th.Score(tt.share); got != tt.want {
			t.Errorf("Score(%v) = %d, want %d", tt.share, got, tt.want)
		}
	}
	// Equal thresholds skip a score; infinite ones always / never pass.
	if got := (ZoneThresholds{0.2, 0.2, posInf}).Score(0.5); got != 2 {
		t.Errorf("{.2,.2,+Inf}.Score(.5) = %d, want 2", got)
	}
	if got := (ZoneThresholds{negInf, negInf, negInf}).Score(0); got != 3 {
		t.Errorf("{-Inf x3}.Score(0) = %d, want 3", got)
	}
	if got := (ZoneThresholds{negInf, negInf, negInf}).Score(math.NaN()); got != 0 {
		t.Errorf("{-Inf x3}.Score(NaN) = %d, want 0", got)
	}
}

func TestBrixiaGlobal(t *testing.T) {
	if got := BrixiaGlobal([6]int{1, 2, 3, 0, 1, 2}); got != 9 {
		t.Errorf("got %d, want 9", got)
	}
	if got := BrixiaGlobal([6]int{3, 3, 3, 3, 3, 3}); got != 18 {
		t.Errorf("got %d, want 18", got)
	}
}

func TestFitZoneThresholds(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name    string
		shares  []float64
		scores  []float64
		want    ZoneThresholds
		wantErr float64 // total absolute error of want
	}{
		{
			// Scores already monotone in the share: a perfect fit, the
			// thresholds at the midpoints .15, .35, .7.
			name:   "perfect",
			shares: []float64{0, .1, .2, .5, .9},
			scores: []float64{0, 0, 1, 2, 3},
			want:   ZoneThresholds{.15, .35, .7},
		},
		{
			name:   "perfect, shuffled, with NaN shares skipped",
			shares: []float64{.9, nan, .2, 0, .5, .1, nan},
			scores: []float64{3, 3, 1, 0, 2, 0, 0},
			want:   ZoneThresholds{.15, .35, .7},
		},
		{
			// 0, 2, 1, 2, 3 is not monotone: the best monotone integer
			// levels cost 1, both 0,1,1,2,3 (cuts 1,3,4) and 0,2,2,2,3
			// (cuts 1,1,4); the tie goes to the lower t[1].
			name:    "tie between two fits of error 1",
			shares:  []float64{0, .1, .2, .5, .9},
			scores:  []float64{0, 2, 1, 2, 3},
			want:    ZoneThresholds{.05, .05, .7},
			wantErr: 1,
		},
		{
			// A mean score of 1.5: scoring it 1 or 2 costs .5 either way;
			// the lower thresholds (score 2) win.
			name:    "one share, half score",
			shares:  []float64{.2},
			scores:  []float64{1.5},
			want:    ZoneThresholds{negInf, negInf, posInf},
			wantErr: .5,
		},
		{
			name:    "two shares, tie on the second",
			shares:  []float64{.1, .3},
			scores:  []float64{0, 1.5},
			want:    ZoneThresholds{.2, .2, posInf},
			wantErr: .5,
		},
		{
			name:   "all zero scores: no threshold reached",
			shares: []float64{0, .4, 1},
			scores: []float64{0, 0, 0},
			want:   ZoneThresholds{posInf, posInf, posInf},
		},
		{
			name:   "all scores 3",
			shares: []float64{0, .4, 1},
			scores: []float64{3, 3, 3},
			want:   ZoneThresholds{negInf, negInf, negInf},
		},
		{
			// One share with scores 0 and 2: levels 0, 1, 2 all cost 2,
			// level 3 costs 4: the lowest thresholds give 2.
			name:    "one share, scores 0 and 2",
			shares:  []float64{.3, .3},
			scores:  []float64{2, 0},
			want:    ZoneThresholds{negInf, negInf, posInf},
			wantErr: 2,
		},
		{
			// Repeated shares: .1 holds 0, 0, 1 (best 0, cost 1); .4 holds
			// 2, 2, 3 (best 2, cost 1); .8 holds 3.
			name:    "repeated shares",
			shares:  []float64{.1, .4, .1, .8, .4, .1, .4},
			scores:  []float64{0, 2, 0, 3, 2, 1, 3},
			want:    ZoneThresholds{.25, .25, .6},
			wantErr: 2,
		},
		{
			// Out-of-range scores are fitted as they are: 5 is best scored 3.
			name:    "score above 3",
			shares:  []float64{0, 1},
			scores:  []float64{0, 5},
			want:    ZoneThresholds{.5, .5, .5},
			wantErr: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FitZoneThresholds(tt.shares, tt.scores)
			if err != nil {
				t.Fatal(err)
			}
			if !sameThresholds(got, tt.want) {
				t.Errorf("thresholds %v, want %v", got, tt.want)
			}
			if e := zoneAbsError(got, tt.shares, tt.scores); math.Abs(e-tt.wantErr) > 1e-12 {
				t.Errorf("error %v, want %v", e, tt.wantErr)
			}
		})
	}
}

func TestFitZoneThresholdsAdjacentFloats(t *testing.T) {
	// The midpoint of two adjacent floats rounds to one of them; the
	// threshold must still separate them.
	lo := 0.5
	hi := math.Nextafter(lo, 1)
	got, err := FitZoneThresholds([]float64{lo, hi}, []float64{0, 3})
	if err != nil {
		t.Fatal(err)
	}
	if got.Score(lo) != 0 || got.Score(hi) != 3 {
		t.Errorf("thresholds %v score %v as %d and %v as %d", got, lo, got.Score(lo), hi, got.Score(hi))
	}
}

func TestFitZoneThresholdsErrors(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name           string
		shares, scores []float64
		want           string
	}{
		{"mismatched", []float64{0, 1}, []float64{0}, "2 shares and 1 scores"},
		{"empty", nil, nil, "no pair with a share"},
		{"all NaN", []float64{nan, nan}, []float64{0, 1}, "no pair with a share (2 pairs"},
		{"infinite share", []float64{0, posInf}, []float64{0, 1}, "share 1 is +Inf"},
		{"NaN score", []float64{0, .5}, []float64{nan, 1}, "score 0 is NaN"},
		{"infinite score", []float64{0, .5}, []float64{0, negInf}, "score 1 is -Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := FitZoneThresholds(tt.shares, tt.scores)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "fit zone thresholds: ") {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}

// sameThresholds reports whether a and b are equal up to rounding (1e-12).
func sameThresholds(a, b ZoneThresholds) bool {
	for k := range a {
		if a[k] != b[k] && !(math.Abs(a[k]-b[k]) < 1e-12) {
			return false
		}
	}
	return true
}

// candidateCuts returns -Inf, the midpoints between the sorted distinct
// non-NaN shares and +Inf, as FitZoneThresholds documents them.
func candidateCuts(shares []float64) []float64 {
	var xs []float64
	for _, x := range shares {
		if !math.IsNaN(x) {
			xs = append(xs, x)
		}
	}
	slices.Sort(xs)
	xs = slices.Compact(xs)
	cuts := []float64{negInf}
	for j := 1; j < len(xs); j++ {
		cuts = append(cuts, xs[j-1]+(xs[j]-xs[j-1])/2)
	}
	return append(cuts, posInf)
}

// randomZones draws n zones whose scores rise with the share, with noise,
// some NaN shares, ties in the shares and half scores.
func randomZones(r *rand.Rand, n int) (shares, scores []float64) {
	shares, scores = make([]float64, n), make([]float64, n)
	for i := range shares {
		x := float64(r.IntN(21)) / 20 // repeated values
		if r.IntN(3) == 0 {
			x = r.Float64()
		}
		s := math.Round(3*x + r.NormFloat64())
		s = min(3, max(0, s))
		if r.IntN(2) == 0 { // a second reader
			s2 := min(3, max(0, s+float64(r.IntN(3)-1)))
			s = (s + s2) / 2
		}
		if r.IntN(15) == 0 {
			x = math.NaN()
		}
		shares[i], scores[i] = x, s
	}
	return shares, scores
}

// TestFitZoneThresholdsExhaustive compares the fit with an exhaustive
// search over all candidate triples on small random data: same minimal
// error, and the fitted triple is the first minimal one in the documented
// order (lowest t[0], then t[1], then t[2]).
func TestFitZoneThresholdsExhaustive(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for iter := range 300 {
		shares, scores := randomZones(r, 1+r.IntN(25))
		got, err := FitZoneThresholds(shares, scores)
		if err != nil {
			if strings.Contains(err.Error(), "no pair with a share") {
				continue
			}
			t.Fatal(err)
		}
		gotErr := zoneAbsError(got, shares, scores)
		cuts := candidateCuts(shares)
		var first ZoneThresholds
		bestErr := posInf
		for i := range cuts {
			for j := i; j < len(cuts); j++ {
				for k := j; k < len(cuts); k++ {
					th := ZoneThresholds{cuts[i], cuts[j], cuts[k]}
					// Scores are halves: the errors are exact.
					if e := zoneAbsError(th, shares, scores); e < bestErr {
						bestErr, first = e, th
					}
				}
			}
		}
		if gotErr != bestErr || got != first {
			t.Fatalf("iter %d: fit %v (error %v), exhaustive %v (error %v)\nshares %v\nscores %v",
				iter, got, gotErr, first, bestErr, shares, scores)
		}
	}
}

// TestFitZoneThresholdsBeatsHandPicked checks on larger random data that no
// hand-picked thresholds fit better than the fitted ones.
func TestFitZoneThresholdsBeatsHandPicked(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	hand := []ZoneThresholds{
		{0, 0.25, 0.5},
		{0.25, 0.5, 0.75},
		{1.0 / 6, 0.5, 5.0 / 6},
		{0.05, 0.3, 0.6},
		{0, 0, 0},
		{posInf, posInf, posInf},
		{negInf, 0.5, posInf},
	}
	for iter := range 20 {
		shares, scores := randomZones(r, 200+r.IntN(1000))
		// Scores of the 0-3 grid with noise, no longer halves.
		for i := range scores {
			scores[i] += 0.1 * r.Float64()
		}
		got, err := FitZoneThresholds(shares, scores)
		if err != nil {
			t.Fatal(err)
		}
		gotErr := zoneAbsError(got, shares, scores)
		for _, th := range hand {
			if e := zoneAbsError(th, shares, scores); e < gotErr-1e-9 {
				t.Errorf("iter %d: hand-picked %v has error %v, the fit %v %v", iter, th, e, got, gotErr)
			}
		}
		// Random thresholds too, sorted or not (Score does not care).
		for range 50 {
			th := ZoneThresholds{r.Float64(), r.Float64(), r.Float64()}
			if e := zoneAbsError(th, shares, scores); e < gotErr-1e-9 {
				t.Errorf("iter %d: random %v has error %v, the fit %v %v", iter, th, e, got, gotErr)
			}
		}
		// The fit does not depend on the order of the pairs.
		perm := r.Perm(len(shares))
		ps, pz := make([]float64, len(perm)), make([]float64, len(perm))
		for i, j := range perm {
			ps[i], pz[i] = shares[j], scores[j]
		}
		again, err := FitZoneThresholds(ps, pz)
		if err != nil || again != got {
			t.Errorf("iter %d: shuffled fit %v, %v; want %v", iter, again, err, got)
		}
	}
}

func TestZoneThresholdsOutOfFold(t *testing.T) {
	nan := math.NaN()
	// Shares in eighths, so that the midpoints are exact.
	shares := []float64{0, .25, .5, .625, .875, .125, nan}
	scores := []float64{0, 1, 1, 2, 3, 0, 2}
	groups := []string{"a", "a", "b", "c", "c", "b", "a"}
	// Fold a: fitted on .125→0, .5→1, .625→2, .875→3: {.3125, .5625,
	// .75}; 0 and .25 score 0, the NaN share 0.
	// Fold b: fitted on 0→0, .25→1, .625→2, .875→3: {.125, .4375, .75};
	// .5 scores 2, .125 scores 0 (it is not above .125).
	// Fold c: fitted on 0→0, .125→0, .25→1, .5→1: {.1875, +Inf, +Inf};
	// .625 and .875 score 1.
	want := []int{0, 0, 2, 1, 1, 0, 0}
	got, err := ZoneThresholdsOutOfFold(shares, scores, groups)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}

	// nil groups: leave one zone out.
	got, err = ZoneThresholdsOutOfFold([]float64{0, .5, 1}, []float64{0, 2, 3}, nil)
	// Without 0: .5→2, 1→3: {-Inf, -Inf, .75}, 0 scores 2. Without .5:
	// 0→0, 1→3: {.5, .5, .5}, .5 scores 0. Without 1: 0→0, .5→2:
	// {.25, .25, +Inf}, 1 scores 2.
	if err != nil || !slices.Equal(got, []int{2, 0, 2}) {
		t.Errorf("nil groups: got %v, %v; want [2 0 2]", got, err)
	}
}

func TestZoneThresholdsOutOfFoldErrors(t *testing.T) {
	nan := math.NaN()
	tests := []struct {
		name           string
		shares, scores []float64
		groups         []string
		want           string
	}{
		{"mismatched scores", []float64{0, 1}, []float64{0}, nil, "2 shares and 1 scores"},
		{"mismatched groups", []float64{0, 1}, []float64{0, 1}, []string{"a"}, "1 group ids for 2 zones"},
		{"empty group", []float64{0, 1}, []float64{0, 1}, []string{"a", ""}, "zone 1 has an empty group id"},
		{"one group", []float64{0, 1}, []float64{0, 1}, []string{"a", "a"}, "1 group(s)"},
		{"nothing left", []float64{0, nan}, []float64{0, 1}, []string{"a", "b"}, "group a held out): fit zone thresholds: no pair"},
		{"NaN score", []float64{0, 1}, []float64{0, nan}, []string{"a", "b"}, "zone thresholds: score 1 is NaN"},
		{"infinite share", []float64{0, negInf}, []float64{0, 1}, []string{"a", "b"}, "zone thresholds: share 1 is -Inf"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ZoneThresholdsOutOfFold(tt.shares, tt.scores, tt.groups)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
