package mask

import (
	"image"
	"slices"
)

// Post-processing of predicted masks: connected components, keeping the
// largest ones, filling holes, splitting a lung mask into its two sides.
//
// Connectivity: set pixels are connected through their 8 neighbours (edges
// and corners), background pixels through their 4 edge neighbours only. The
// two go together: a diagonal step joins two set pixels and, by the same
// token, separates the background on either side of it, so a background
// region that reaches the border only through a diagonal gap is a hole.
//
// Invalid masks (nil, a side <= 0, or len(Pix) != Width*Height) are treated
// as having no set pixel: no function here panics on them. A function that
// returns a mask then returns an all-zero mask of the same Width, Height and
// len(Pix) (an empty 0x0 mask for nil), never nil.

// Components labels the 8-connected components of the set pixels of m.
// labels has one entry per pixel (row-major, like Pix): 0 for background,
// k >= 1 for the pixels of component k. Components are numbered 1, 2, ... in
// raster order (row by row, left to right) of their first pixel, so the
// numbering is deterministic. sizes[k] is the pixel count of component k and
// sizes[0] is 0; the number of components is len(sizes)-1. An invalid mask
// gives labels nil and sizes [0].
func Components(m *Mask) (labels []int32, sizes []int) {
	sizes = []int{0}
	if !m.valid() {
		return nil, sizes
	}
	w, h := m.Width, m.Height
	labels = make([]int32, len(m.Pix))
	var stack []int
	for start, p := range m.Pix {
		if p == 0 || labels[start] != 0 {
			continue
		}
		k := int32(len(sizes))
		n := 0
		labels[start] = k
		stack = append(stack[:0], start)
		for len(stack) > 0 {
			i := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			n++
			x, y := i%w, i/w
			for dy := -1; dy <= 1; dy++ {
				yy := y + dy
				if yy < 0 || yy >= h {
					continue
				}
				for dx := -1; dx <= 1; dx++ {
					xx := x + dx
					if xx < 0 || xx >= w {
						continue
					}
					j := yy*w + xx
					if m.Pix[j] != 0 && labels[j] == 0 {
						labels[j] = k
						stack = append(stack, j)
					}
				}
			}
		}
		sizes = append(sizes, n)
	}
	return labels, sizes
}

// KeepLargest returns a new mask holding only the n largest 8-connected
// components of m (all of them when m has n or fewer; none when n <= 0).
// Among components of equal size, the one whose first pixel comes first in
// raster order wins, so the result is deterministic. m is not changed.
func KeepLargest(m *Mask, n int) *Mask {
	labels, sizes := Components(m)
	return KeepLargestLabeled(m, labels, sizes, n)
}

// KeepLargestLabeled is KeepLargest given m's components (labels and sizes
// from Components(m)), for a caller that needs them too.
func KeepLargestLabeled(m *Mask, labels []int32, sizes []int, n int) *Mask {
	out := zeroLike(m)
	if n <= 0 || len(sizes) <= 1 {
		return out
	}
	keep := make([]bool, len(sizes))
	if n >= len(sizes)-1 {
		for k := 1; k < len(sizes); k++ {
			keep[k] = true
		}
	} else {
		for _, k := range largestComponents(sizes, n) {
			keep[k] = true
		}
	}
	for i, k := range labels {
		if keep[k] {
			out.Pix[i] = 1
		}
	}
	return out
}

// largestComponents returns the labels of the n largest components, larger
// first, ties to the lower label.
func largestComponents(sizes []int, n int) []int {
	order := make([]int, 0, len(sizes)-1)
	for k := 1; k < len(sizes); k++ {
		order = append(order, k)
	}
	slices.SortStableFunc(order, func(a, b int) int { return sizes[b] - sizes[a] })
	return order[:min(n, len(order))]
}

// FillHoles returns a copy of m in which every background pixel that is not
// 4-connected to the image border through background pixels is set: the
// holes of the components, including background that reaches the outside
// only through a diagonal gap between two set pixels (see the connectivity
// note above). Components inside a hole of another merge with it.
func FillHoles(m *Mask) *Mask {
	out := zeroLike(m)
	if !m.valid() {
		return out
	}
	w, h := m.Width, m.Height
	// outside[i]: background reached from the border.
	outside := make([]bool, len(m.Pix))
	var stack []int
	push := func(i int) {
		if m.Pix[i] == 0 && !outside[i] {
			outside[i] = true
			stack = append(stack, i)
		}
	}
	for x := 0; x < w; x++ {
		push(x)
		push((h-1)*w + x)
	}
	for y := 0; y < h; y++ {
		push(y * w)
		push(y*w + w - 1)
	}
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		x, y := i%w, i/w
		if x > 0 {
			push(i - 1)
		}
		if x+1 < w {
			push(i + 1)
		}
		if y > 0 {
			push(i - w)
		}
		if y+1 < h {
			push(i + w)
		}
	}
	for i, o := range outside {
		if !o {
			out.Pix[i] = 1
		}
	}
	return out
}

// BoundingBox returns the smallest rectangle holding every set pixel of m,
// in pixel indices (Min inclusive, Max exclusive, as image.Rectangle), and
// true; or the zero rectangle and false when m has no set pixel or is
// invalid. Unlike CropBox it adds no margin and needs no lung.
func BoundingBox(m *Mask) (image.Rectangle, bool) {
	if !m.valid() {
		return image.Rectangle{}, false
	}
	r := maskBounds(m)
	return r, !r.Empty()
}

// SplitLungs splits a lung mask into the patient's right and left lungs, as
// new masks of m's size.
//
// It uses the two largest 8-connected components of m (as KeepLargest(m, 2)
// would; smaller ones are dropped), and the radiological convention of a
// frontal chest X-ray: the patient faces the viewer, so the patient's RIGHT
// lung appears on the viewer's LEFT (smaller x). Each component's side is
// read from its centroid (the mean of its pixel centres):
//
//   - two components: the one whose centroid has the smaller x is the right
//     lung, the other the left lung (this is the component on the image's
//     left half, x < Width/2, when they lie on either side of the middle;
//     on equal x the one first in raster order is the right lung);
//   - one component: it is the right lung when its centroid x < Width/2,
//     else the left lung, and the other side is empty;
//   - none: both are empty.
//
// Two lungs that touch form one component and come back as one side.
func SplitLungs(m *Mask) (right, left *Mask) {
	right, left = zeroLike(m), zeroLike(m)
	labels, sizes := Components(m)
	if len(sizes) <= 1 {
		return right, left
	}
	ks := largestComponents(sizes, 2)
	// Twice the sum of the pixel centres' x, per component: 2x+1 for the
	// centre x+0.5, so that the comparisons stay in integers.
	sum2x := make(map[int]int64, 2)
	for i, k := range labels {
		if k != 0 {
			sum2x[int(k)] += int64(2*(i%m.Width) + 1)
		}
	}
	paint := func(dst *Mask, k int) {
		for i, l := range labels {
			if int(l) == k {
				dst.Pix[i] = 1
			}
		}
	}
	if len(ks) == 1 {
		k := ks[0]
		// centroid < Width/2  <=>  sum(2x+1) < n*Width.
		if sum2x[k] < int64(sizes[k])*int64(m.Width) {
			paint(right, k)
		} else {
			paint(left, k)
		}
		return right, left
	}
	a, b := min(ks[0], ks[1]), max(ks[0], ks[1]) // a first in raster order
	// Twice the centroids' x. The sums are exact in float64 (below 2^53 for
	// any mask that fits in memory), and so equal centroids give equal
	// quotients: ties go to raster order.
	ca := float64(sum2x[a]) / float64(sizes[a])
	cb := float64(sum2x[b]) / float64(sizes[b])
	if cb < ca {
		a, b = b, a
	}
	paint(right, a)
	paint(left, b)
	return right, left
}

// zeroLike returns an all-zero mask shaped like m (an empty 0x0 mask for
// nil), allocating no more than m holds.
func zeroLike(m *Mask) *Mask {
	if m == nil {
		return &Mask{Pix: []uint8{}}
	}
	return &Mask{Width: m.Width, Height: m.Height, Pix: make([]uint8, len(m.Pix))}
}

// maskBounds returns the bounding box of m's set pixels (empty if none).
func maskBounds(m *Mask) image.Rectangle {
	x0, y0, x1, y1 := m.Width, m.Height, -1, -1
	for y := 0; y < m.Height; y++ {
		row := m.Pix[y*m.Width : (y+1)*m.Width]
		for x, p := range row {
			if p != 0 {
				x0, x1 = min(x0, x), max(x1, x)
				y0, y1 = min(y0, y), max(y1, y)
			}
		}
	}
	if x1 < 0 {
		return image.Rectangle{}
	}
	return image.Rect(x0, y0, x1+1, y1+1)
}
