package research_test

import (
	"encoding/json"
	"fmt"

	"github.com/covidxray/opacity/research"
)

func ExampleFitScoreMap() {
	// Opacity percentages of four images and their geographic-extent scores
	// (0-8); the first two images belong to the same patient.
	pct := []float64{0, 10, 20, 30}
	extent := []float64{0, 0.5, 1, 4}
	patients := []string{"p1", "p1", "p2", "p3"}

	// A map fitted on all images: y = a + b·pct by least squares
	// (b = Σ(x-x̄)y/Σ(x-x̄)² = 62.5/500 = 0.125, a = 1.375 - 0.125·15 = -0.5),
	// clipped to the range of the score.
	m, err := research.FitScoreMap(research.ScoreMapLinear, pct, extent, 0, 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("extent = %.2f + %.3f·pct\n", m.Intercept, m.Slope)
	fmt.Printf("at 40%%: %.2f, at 90%%: %.2f (clipped)\n", m.Predict(40), m.Predict(90))

	// Stored with the models as JSON and read back.
	data, err := json.Marshal(m)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(string(data))
	var back research.ScoreMap
	if err := json.Unmarshal(data, &back); err != nil || back.Validate() != nil {
		fmt.Println("cannot read the map back:", err)
		return
	}

	// Out of fold, leaving one patient out (k = 0): each image is scored by
	// a map fitted on the other patients only. Without p1 the line through
	// (20, 1) and (30, 4) gives -5 and -2, clipped to 0; without p2 the fit
	// on (0, 0), (10, 0.5), (30, 4) is -5/14 + 39/280·pct, 17/7 at 20%;
	// without p3 the line y = pct/20 gives 1.5 at 30%.
	oof, err := research.OutOfFold(research.ScoreMapLinear, pct, extent, patients, 0, 1, 0, 8)
	if err != nil {
		fmt.Println(err)
		return
	}
	for i, v := range oof {
		fmt.Printf("%s %2.0f%%: %.3f\n", patients[i], pct[i], v)
	}
	// Output:
	// extent = -0.50 + 0.125·pct
	// at 40%: 4.50, at 90%: 8.00 (clipped)
	// {"method":"linear","lo":0,"hi":8,"n":4,"intercept":-0.5,"slope":0.125}
	// p1  0%: 0.000
	// p1 10%: 0.000
	// p2 20%: 2.429
	// p3 30%: 1.500
}
