package fetch

import (
	"image"
	"math"
	"runtime"
	"sort"
	"sync"
)

// ThumbnailSide is the side of the thumbnails that NCC compares.
const ThumbnailSide = 32

// Thumbnail32 returns the 32×32 thumbnail of img that NCC compares, row by
// row (1,024 values):
//
//   - resampled as Pillow's Image.resize((32, 32), Image.BILINEAR) does
//     (see resizeBilinear8): a triangle filter widened by the shrink factor
//     (antialiased, unlike ResizeGray), the rows first, then the columns,
//     each pass rounded to 8 bits; the aspect ratio is not kept;
//   - then normalised: the mean is subtracted and the result divided by its
//     Euclidean norm, so that the thumbnail has zero mean and norm 1.
//
// This is the resampling that reproduces the similarities of the
// covid-qu-ex reference copy (its near-duplicates.csv, to 4 decimals);
// an area average (OpenCV's INTER_AREA) gives slightly lower ones (up to
// 0.005 less on those pairs, dropping 8 of its 26 pairs below 0.99).
//
// A uniform image (or an empty one) has no contrast to normalise: its
// thumbnail is all zeros, and its NCC with anything is 0.
func Thumbnail32(img *image.Gray) []float64 {
	px := resizeBilinear8(img, ThumbnailSide, ThumbnailSide)
	t := make([]float64, len(px))
	var mean float64
	for i, v := range px {
		t[i] = float64(v)
		mean += t[i]
	}
	mean /= float64(len(t))
	var ss float64
	for i, v := range t {
		t[i] = v - mean
		ss += t[i] * t[i]
	}
	if ss == 0 {
		return t // all zeros
	}
	inv := 1 / math.Sqrt(ss)
	for i := range t {
		t[i] *= inv
	}
	return t
}

// resampleBits is the fixed-point precision of Pillow's 8-bit resampling
// coefficients.
const resampleBits = 32 - 8 - 2

// resizeBilinear8 resizes img to w×h as Pillow's Image.resize with
// Image.BILINEAR resamples an 8-bit image ("L"), byte for byte: a separable
// convolution with the triangle filter max(0, 1-|x|), stretched by the
// scale factor s = in/out when shrinking (so output pixel k averages the
// input pixels within s of its centre (k+0.5)·s, weighted 1-|i+0.5-c|/s and
// normalised), with fixed-point coefficients (22 bits) and rounding to
// 8 bits after the horizontal pass and after the vertical one. The result
// is w×h bytes, row by row.
func resizeBilinear8(img *image.Gray, w, h int) []uint8 {
	b := img.Bounds()
	sw, sh := b.Dx(), b.Dy()
	out := make([]uint8, w*h)
	if sw == 0 || sh == 0 || w <= 0 || h <= 0 {
		return out
	}
	xs := bilinearTaps(sw, w)
	ys := bilinearTaps(sh, h)
	tmp := make([]uint8, sh*w)
	for y := 0; y < sh; y++ {
		src := img.Pix[img.PixOffset(b.Min.X, b.Min.Y+y):]
		for x, taps := range xs {
			acc := int64(1) << (resampleBits - 1)
			for _, t := range taps {
				acc += int64(src[t.i]) * t.k
			}
			tmp[y*w+x] = clip8(acc)
		}
	}
	for y, taps := range ys {
		for x := 0; x < w; x++ {
			acc := int64(1) << (resampleBits - 1)
			for _, t := range taps {
				acc += int64(tmp[t.i*w+x]) * t.k
			}
			out[y*w+x] = clip8(acc)
		}
	}
	return out
}

// clip8 turns a fixed-point sum into a byte.
func clip8(acc int64) uint8 {
	v := acc >> resampleBits
	switch {
	case v < 0:
		return 0
	case v > 255:
		return 255
	}
	return uint8(v)
}

// resampleTap is one input pixel's fixed-point weight in an output pixel.
type resampleTap struct {
	i int
	k int64
}

// bilinearTaps returns, for each of n output pixels resampling src input
// pixels, the input pixels and their weights, as Pillow computes them
// (precompute_coeffs and normalize_coeffs_8bpc of Resample.c).
func bilinearTaps(src, n int) [][]resampleTap {
	scale := float64(src) / float64(n)
	filterScale := math.Max(scale, 1)
	support := 1 * filterScale // the triangle's support is 1
	taps := make([][]resampleTap, n)
	for k := range taps {
		centre := (float64(k) + 0.5) * scale
		lo := max(int(centre-support+0.5), 0) // C's (int): towards zero, then clipped
		hi := min(int(centre+support+0.5), src)
		ws := make([]float64, 0, hi-lo)
		var sum float64
		for i := lo; i < hi; i++ {
			x := math.Abs((float64(i) - centre + 0.5) / filterScale)
			w := 0.0
			if x < 1 {
				w = 1 - x
			}
			ws = append(ws, w)
			sum += w
		}
		for j, w := range ws {
			if sum != 0 {
				w /= sum
			}
			taps[k] = append(taps[k], resampleTap{lo + j, int64(math.Floor(w*(1<<resampleBits) + 0.5))})
		}
	}
	return taps
}

// NCC returns the normalised cross-correlation of two images given by their
// thumbnails (Thumbnail32): the dot product of the zero-mean, unit-norm
// thumbnails, in [-1, 1]. 1 means the same picture up to brightness and
// contrast (a·img + b with a > 0), -1 its negative, 0 no linear
// relation; 0 also when either image is uniform. Thumbnails of different
// lengths are compared over the shorter one.
func NCC(a, b []float64) float64 {
	n := min(len(a), len(b))
	a, b = a[:n], b[:n]
	var s0, s1, s2, s3 float64
	i := 0
	for ; i+4 <= n; i += 4 {
		s0 += a[i] * b[i]
		s1 += a[i+1] * b[i+1]
		s2 += a[i+2] * b[i+2]
		s3 += a[i+3] * b[i+3]
	}
	for ; i < n; i++ {
		s0 += a[i] * b[i]
	}
	return (s0 + s1) + (s2 + s3)
}

// SimilarPair is a pair of images and their NCC.
type SimilarPair struct {
	A, B       string
	Similarity float64
}

// NearDuplicatePairs returns every pair of the named thumbnails whose NCC
// is above threshold (strictly), with A < B (byte order), sorted by A then
// B. names and thumbs are parallel; a name given twice pairs with nothing
// but the others. The comparison of all pairs runs on GOMAXPROCS
// goroutines.
func NearDuplicatePairs(names []string, thumbs [][]float64, threshold float64) []SimilarPair {
	n := min(len(names), len(thumbs))
	workers := max(1, min(runtime.GOMAXPROCS(0), n/64))
	var mu sync.Mutex
	var out []SimilarPair
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			var local []SimilarPair
			// Rows interleaved, so that the workers' shares of the
			// triangle are about equal.
			for i := w; i < n; i += workers {
				for j := i + 1; j < n; j++ {
					if names[i] == names[j] {
						continue
					}
					if s := NCC(thumbs[i], thumbs[j]); s > threshold {
						a, b := names[i], names[j]
						if b < a {
							a, b = b, a
						}
						local = append(local, SimilarPair{a, b, s})
					}
				}
			}
			mu.Lock()
			out = append(out, local...)
			mu.Unlock()
		}(w)
	}
	wg.Wait()
	sort.Slice(out, func(i, j int) bool {
		if out[i].A != out[j].A {
			return out[i].A < out[j].A
		}
		return out[i].B < out[j].B
	})
	return out
}

// MostSimilar returns the index of the thumbnail of refs most similar to t
// (highest NCC) and that NCC; -1 and -2 when refs is empty. Ties go to the
// first.
func MostSimilar(t []float64, refs [][]float64) (int, float64) {
	best, bestSim := -1, -2.0
	for i, r := range refs {
		if s := NCC(t, r); s > bestSim {
			best, bestSim = i, s
		}
	}
	return best, bestSim
}
