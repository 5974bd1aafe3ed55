package num

import (
	"encoding/json"
	"math"
	"testing"
)

func TestFinite(t *testing.T) {
	tests := []struct {
		name string
		vs   []float64
		want bool
	}{
		{"none", nil, true},
		{"zero", []float64{0}, true},
		{"negative and large", []float64{-1.5, math.MaxFloat64}, true},
		{"NaN", []float64{math.NaN()}, false},
		{"+Inf", []float64{math.Inf(1)}, false},
		{"-Inf after a finite value", []float64{2, math.Inf(-1)}, false},
	}
	for _, tc := range tests {
		if got := Finite(tc.vs...); got != tc.want {
			t.Errorf("%s: Finite(%v) = %v, want %v", tc.name, tc.vs, got, tc.want)
		}
	}
}

func TestNullable(t *testing.T) {
	tests := []struct {
		v    float64
		json string
	}{
		{0.25, "0.25"},
		{-3, "-3"},
		{1e-7, "1e-7"},
		{math.NaN(), "null"},
		{math.Inf(1), "null"},
		{math.Inf(-1), "null"},
	}
	for _, tc := range tests {
		p := Nullable(tc.v)
		if (p == nil) != !Finite(tc.v) || (p != nil && *p != tc.v) {
			t.Errorf("Nullable(%v) = %v", tc.v, p)
		}
		b, err := json.Marshal(p)
		if err != nil || string(b) != tc.json {
			t.Errorf("Nullable(%v) as JSON = %s, %v, want %s", tc.v, b, err, tc.json)
		}
	}
}
