package num

import "math"

// Finite reports whether every value is a finite number (neither NaN nor
// infinite); it is true of no values.
func Finite(vs ...float64) bool {
	for _, v := range vs {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return false
		}
	}
	return true
}

// Nullable returns &v, or nil when v is not a finite number: the way every
// JSON file of the project writes an undefined value (NaN, ±Inf), as null.
func Nullable(v float64) *float64 {
	if !Finite(v) {
		return nil
	}
	return &v
}
