package research

import (
	"math"
	"sort"
)

// midranks returns the rank of each value among values, 1-based, ties given
// the mean of the ranks they span (the "midrank"). NaN values are not
// allowed; callers check for them first.
func midranks(values []float64) []float64 {
	n := len(values)
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(a, b int) bool { return values[order[a]] < values[order[b]] })
	ranks := make([]float64, n)
	for i := 0; i < n; {
		j := i
		for j < n && values[order[j]] == values[order[i]] {
			j++
		}
		// Positions i..j-1 (0-based) hold ranks i+1..j; their mean is (i+1+j)/2.
		r := float64(i+1+j) / 2
		for k := i; k < j; k++ {
			ranks[order[k]] = r
		}
		i = j
	}
	return ranks
}

// checkFinite returns the index of the first NaN or infinite value, or -1.
func checkFinite(values []float64) int {
	for i, v := range values {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return i
		}
	}
	return -1
}

// quantile returns the q-quantile (0 <= q <= 1) of sorted values by linear
// interpolation between order statistics (type 7 of Hyndman and Fan, the
// default of R and NumPy). sorted must be sorted ascending and not empty.
func quantile(sorted []float64, q float64) float64 {
	n := len(sorted)
	if n == 1 {
		return sorted[0]
	}
	h := q * float64(n-1)
	lo := int(math.Floor(h))
	if lo >= n-1 {
		return sorted[n-1]
	}
	return sorted[lo] + (h-float64(lo))*(sorted[lo+1]-sorted[lo])
}

// z975 is the 0.975 quantile of the standard normal distribution: a 95%
// two-sided normal interval is estimate ± z975 * SE.
const z975 = 1.959963984540054

// normalTwoSidedP returns the two-sided p-value 2 * (1 - Φ(|z|)).
func normalTwoSidedP(z float64) float64 {
	return math.Erfc(math.Abs(z) / math.Sqrt2)
}
