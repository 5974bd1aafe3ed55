// Package num holds the two number helpers that every layer shares: Finite
// (is every value a finite number?) and Nullable (a value as a pointer, nil
// when it is not finite: how every JSON file of the project writes an
// undefined number, as null). It sits below the mask geometry, which checks
// its coordinates with Finite, so that every package can use it.
package num
