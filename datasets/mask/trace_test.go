package mask

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// componentMask returns the pixels of component k alone.
func componentMask(w, h int, labels []int32, k int) *Mask {
	c := New(w, h)
	for i, l := range labels {
		if int(l) == k {
			c.Pix[i] = 1
		}
	}
	return c
}

// rasterizeAll draws polygons into a new w x h mask.
func rasterizeAll(w, h int, polys [][][2]float64) *Mask {
	g := New(w, h)
	for _, p := range polys {
		RasterizePolygon(g, p)
	}
	return g
}

// maskIoUOf returns |a ∩ b| / |a ∪ b| (1 for two empty masks).
func maskIoUOf(t testing.TB, a, b *Mask) float64 {
	t.Helper()
	inter, err := a.IntersectCount(b)
	if err != nil {
		t.Fatal(err)
	}
	union := a.Count() + b.Count() - inter
	if union == 0 {
		return 1
	}
	return float64(inter) / float64(union)
}

// segmentsMeet reports whether the closed segments [p1, p2] and [q1, q2]
// share a point. Exact for coordinates in half pixels.
func segmentsMeet(p1, p2, q1, q2 [2]float64) bool {
	orient := func(a, b, c [2]float64) int {
		v := (b[0]-a[0])*(c[1]-a[1]) - (b[1]-a[1])*(c[0]-a[0])
		switch {
		case v > 0:
			return 1
		case v < 0:
			return -1
		}
		return 0
	}
	onSeg := func(a, b, c [2]float64) bool { // c on [a, b], given collinear
		return math.Min(a[0], b[0]) <= c[0] && c[0] <= math.Max(a[0], b[0]) &&
			math.Min(a[1], b[1]) <= c[1] && c[1] <= math.Max(a[1], b[1])
	}
	d1, d2 := orient(q1, q2, p1), orient(q1, q2, p2)
	d3, d4 := orient(p1, p2, q1), orient(p1, p2, q2)
	if d1*d2 < 0 && d3*d4 < 0 {
		return true
	}
	return (d1 == 0 && onSeg(q1, q2, p1)) || (d2 == 0 && onSeg(q1, q2, p2)) ||
		(d3 == 0 && onSeg(p1, p2, q1)) || (d4 == 0 && onSeg(p1, p2, q2))
}

// polygonProblem returns why pts is not a simple polygon without
// collinear consecutive vertices, or "".
func polygonProblem(pts [][2]float64) string {
	n := len(pts)
	if n < 3 {
		return fmt.Sprintf("%d points", n)
	}
	for k := range pts {
		a, b, c := pts[(k+n-1)%n], pts[k], pts[(k+1)%n]
		if (b[0]-a[0])*(c[1]-b[1])-(b[1]-a[1])*(c[0]-b[0]) == 0 {
			return fmt.Sprintf("vertex %d %v collinear with its neighbours", k, b)
		}
	}
	for i := 0; i < n; i++ {
		for j := i + 2; j < n; j++ {
			if i == 0 && j == n-1 {
				continue // adjacent through the closing edge
			}
			if segmentsMeet(pts[i], pts[(i+1)%n], pts[j], pts[(j+1)%n]) {
				return fmt.Sprintf("edges %d and %d meet", i, j)
			}
		}
	}
	return ""
}

// checkTraceExact checks the invariants of TraceContours on m: one polygon
// per component, each simple, with vertices in half pixels, rasterising to
// exactly its component with holes filled; the union is FillHoles(m).
func checkTraceExact(t testing.TB, m *Mask, checkSimple bool) [][][2]float64 {
	t.Helper()
	polys := TraceContours(m)
	labels, sizes := Components(m)
	if len(polys) != len(sizes)-1 {
		t.Fatalf("%d polygons for %d components", len(polys), len(sizes)-1)
	}
	for k, p := range polys {
		if len(p) < 3 {
			t.Fatalf("polygon %d has %d points", k, len(p))
		}
		for _, q := range p {
			if q[0]*2 != math.Trunc(q[0]*2) || q[1]*2 != math.Trunc(q[1]*2) {
				t.Fatalf("polygon %d: vertex %v not in half pixels", k, q)
			}
		}
		if checkSimple {
			if why := polygonProblem(p); why != "" {
				t.Fatalf("polygon %d %v: %s", k, p, why)
			}
		}
		want := FillHoles(componentMask(m.Width, m.Height, labels, k+1))
		got := rasterizeAll(m.Width, m.Height, [][][2]float64{p})
		if maskRows(got) != maskRows(want) {
			t.Fatalf("polygon %d %v rasterises to\n%swant\n%s", k, p, maskRows(got), maskRows(want))
		}
	}
	if got, want := rasterizeAll(m.Width, m.Height, polys), FillHoles(m); maskRows(got) != maskRows(want) {
		t.Fatalf("union rasterises to\n%swant\n%s", maskRows(got), maskRows(want))
	}
	return polys
}

func TestTraceContoursPoints(t *testing.T) {
	tests := []struct {
		name string
		in   *Mask
		want [][][2]float64
	}{
		{
			name: "single pixel",
			in:   maskFromRows("...", ".#.", "..."),
			want: [][][2]float64{{{1.5, 1}, {2, 1.5}, {1.5, 2}, {1, 1.5}}},
		},
		{
			name: "1x1 mask",
			in:   maskFromRows("#"),
			want: [][][2]float64{{{0.5, 0}, {1, 0.5}, {0.5, 1}, {0, 0.5}}},
		},
		{
			name: "domino",
			in:   maskFromRows("##"),
			want: [][][2]float64{{{0.5, 0}, {1.5, 0}, {2, 0.5}, {1.5, 1}, {0.5, 1}, {0, 0.5}}},
		},
		{
			name: "square",
			in:   maskFromRows("##", "##"),
			want: [][][2]float64{{{0.5, 0}, {1.5, 0}, {2, 0.5}, {2, 1.5}, {1.5, 2}, {0.5, 2}, {0, 1.5}, {0, 0.5}}},
		},
		{
			// Corner-touching pixels are one component; the outline is
			// the thin diagonal band through both centres.
			name: "diagonal pair",
			in:   maskFromRows("#.", ".#"),
			want: [][][2]float64{{{0.5, 0}, {2, 1.5}, {1.5, 2}, {0, 0.5}}},
		},
		{
			name: "anti-diagonal pair",
			in:   maskFromRows(".#", "#."),
			want: [][][2]float64{{{1.5, 0}, {2, 0.5}, {0.5, 2}, {0, 1.5}}},
		},
		{
			name: "L",
			in:   maskFromRows("#.", "##"),
			want: [][][2]float64{{{0.5, 0}, {2, 1.5}, {1.5, 2}, {0.5, 2}, {0, 1.5}, {0, 0.5}}},
		},
		{
			// Holes are not traced: the ring's outline is the square's.
			name: "ring",
			in:   maskFromRows("###", "#.#", "###"),
			want: [][][2]float64{{{0.5, 0}, {2.5, 0}, {3, 0.5}, {3, 2.5}, {2.5, 3}, {0.5, 3}, {0, 2.5}, {0, 0.5}}},
		},
		{
			name: "two components in raster order",
			in:   maskFromRows("..#", "...", "#.."),
			want: [][][2]float64{
				{{2.5, 0}, {3, 0.5}, {2.5, 1}, {2, 0.5}},
				{{0.5, 2}, {1, 2.5}, {0.5, 3}, {0, 2.5}},
			},
		},
		{name: "empty", in: New(3, 2), want: nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := checkTraceExact(t, tc.in, true)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("TraceContours = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestTraceContoursExact checks, on shapes chosen for their corners, that
// each polygon rasterises to exactly its component (holes filled) and that
// the polygons are simple.
func TestTraceContoursExact(t *testing.T) {
	tests := []struct {
		name string
		in   *Mask
	}{
		{"L", maskFromRows("#...", "#...", "#...", "####")},
		{"T", maskFromRows("#####", "..#..", "..#..")},
		{"plus", maskFromRows(".#.", "###", ".#.")},
		{"U", maskFromRows("#..#", "#..#", "####")},
		{"staircase", maskFromRows("#...", "##..", "###.", "####")},
		{"diagonal chain", maskFromRows("#...", ".#..", "..#.", "...#")},
		{"anti-diagonal chain", maskFromRows("...#", "..#.", ".#..", "#...")},
		{"X", maskFromRows("#...#", ".#.#.", "..#..", ".#.#.", "#...#")},
		{"checkerboard", maskFromRows("#.#.#", ".#.#.", "#.#.#", ".#.#.")},
		{"diamond ring, all diagonal", maskFromRows("..#..", ".#.#.", "#...#", ".#.#.", "..#..")},
		{"blocks touching by a corner", maskFromRows("##..", "##..", "..##", "..##")},
		{"ring with a speck inside", maskFromRows("#####", "#...#", "#.#.#", "#...#", "#####")},
		{"hole open by a corner", maskFromRows("......", ".###..", ".#..#.", ".#.#..", ".##...", "......")},
		{"spiral", maskFromRows(
			"#######",
			"#.....#",
			"#.###.#",
			"#.#.#.#",
			"#.#...#",
			"#.#####",
			"#......",
		)},
		{"full border", maskFromRows("###", "###")},
		{"comb", maskFromRows("#.#.#.#", "#######", "#.#.#.#")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			checkTraceExact(t, tc.in, true)
		})
	}
}

func TestTraceContoursRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	for it := 0; it < 300; it++ {
		w, h := 1+rng.IntN(24), 1+rng.IntN(24)
		density := rng.Float64()
		m := New(w, h)
		for i := range m.Pix {
			if rng.Float64() < density {
				m.Pix[i] = 1
			}
		}
		t.Run(fmt.Sprintf("%d_%dx%d", it, w, h), func(t *testing.T) {
			checkTraceExact(t, m, w*h <= 200)
			checkTraceExact(t, FillHoles(m), w*h <= 200)
		})
	}
}

func TestSimplifyPolygon(t *testing.T) {
	hexagon := [][2]float64{{0, 0}, {4, 0}, {6, 3}, {4, 6}, {0, 6}, {-2, 3}}
	tests := []struct {
		name string
		in   [][2]float64
		tol  float64
		want [][2]float64
	}{
		{
			name: "collinear points removed at tol 0",
			in:   [][2]float64{{0, 0}, {1, 0}, {2, 0}, {2, 1}, {2, 2}, {0, 2}, {0, 1}},
			want: [][2]float64{{0, 0}, {2, 0}, {2, 2}, {0, 2}},
		},
		{
			name: "first point collinear",
			in:   [][2]float64{{1, 0}, {2, 0}, {2, 2}, {0, 2}, {0, 0}},
			want: [][2]float64{{2, 0}, {2, 2}, {0, 2}, {0, 0}},
		},
		{
			name: "repeated points",
			in:   [][2]float64{{0, 0}, {0, 0}, {2, 0}, {2, 2}, {2, 2}, {0, 2}},
			want: [][2]float64{{0, 0}, {2, 0}, {2, 2}, {0, 2}},
		},
		{
			// A point on the line but beyond the segment (a spike) is not
			// collinear in the sense of lying between its neighbours.
			name: "spike kept at tol 0",
			in:   [][2]float64{{0, 0}, {4, 0}, {6, 0}, {4, 0.5}, {4, 4}, {0, 4}},
			want: [][2]float64{{0, 0}, {6, 0}, {4, 0.5}, {4, 4}, {0, 4}},
		},
		{
			name: "bump within tol dropped",
			in:   [][2]float64{{0, 0}, {2, 0.3}, {4, 0}, {4, 4}, {0, 4}},
			tol:  0.5,
			want: [][2]float64{{0, 0}, {4, 0}, {4, 4}, {0, 4}},
		},
		{
			name: "bump beyond tol kept",
			in:   [][2]float64{{0, 0}, {2, 0.3}, {4, 0}, {4, 4}, {0, 4}},
			tol:  0.2,
			want: [][2]float64{{0, 0}, {2, 0.3}, {4, 0}, {4, 4}, {0, 4}},
		},
		{
			name: "huge tol keeps 3 points",
			in:   hexagon,
			tol:  100,
			want: [][2]float64{{0, 0}, {6, 3}, {-2, 3}},
		},
		{name: "negative tol is 0", in: hexagon, tol: -1, want: hexagon},
		{name: "NaN tol is 0", in: hexagon, tol: math.NaN(), want: hexagon},
		{name: "triangle", in: [][2]float64{{0, 0}, {1, 0}, {0, 1}}, tol: 10, want: [][2]float64{{0, 0}, {1, 0}, {0, 1}}},
		{name: "two points", in: [][2]float64{{0, 0}, {1, 0}}, want: [][2]float64{{0, 0}, {1, 0}}},
		{name: "no points", in: nil, want: nil},
		{
			name: "all points equal",
			in:   [][2]float64{{1, 1}, {1, 1}, {1, 1}, {1, 1}},
			want: [][2]float64{{1, 1}, {1, 1}, {1, 1}},
		},
		{
			name: "non-finite returned as is",
			in:   [][2]float64{{0, 0}, {1, 0}, {2, 0}, {math.Inf(1), 2}},
			want: [][2]float64{{0, 0}, {1, 0}, {2, 0}, {math.Inf(1), 2}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := slices.Clone(tc.in)
			got := SimplifyPolygon(tc.in, tc.tol)
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("SimplifyPolygon = %v, want %v", got, tc.want)
			}
			if fmt.Sprint(in) != fmt.Sprint(tc.in) {
				t.Error("the input changed")
			}
		})
	}
}

// TestSimplifyPolygonBound checks the Douglas–Peucker guarantee on random
// star polygons: the result is a subsequence of at least 3 points, and
// each dropped point lies within tol of the segment between the kept
// points around it.
func TestSimplifyPolygonBound(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 5))
	for it := 0; it < 200; it++ {
		n := 3 + rng.IntN(60)
		pts := make([][2]float64, n)
		for k := range pts {
			a := 2 * math.Pi * float64(k) / float64(n)
			r := 5 + 10*rng.Float64()
			pts[k] = [2]float64{50 + r*math.Cos(a), 50 + r*math.Sin(a)}
		}
		tol := []float64{0, 0.5, 1, 3, 20}[it%5]
		got := SimplifyPolygon(pts, tol)
		if len(got) < 3 {
			t.Fatalf("%d points kept", len(got))
		}
		if again := SimplifyPolygon(pts, tol); fmt.Sprint(again) != fmt.Sprint(got) {
			t.Fatal("not deterministic")
		}
		// Map the kept points back to indices, in order.
		idx := make([]int, 0, len(got))
		j := 0
		for k, p := range pts {
			if j < len(got) && p == got[j] {
				idx = append(idx, k)
				j++
			}
		}
		if j != len(got) {
			t.Fatalf("result %v is not a subsequence of %v", got, pts)
		}
		for q := range idx {
			a, b := idx[q], idx[(q+1)%len(idx)]
			for k := (a + 1) % n; k != b; k = (k + 1) % n {
				if d := math.Sqrt(segmentDist2(pts[k], pts[a], pts[b])); d > tol+1e-9 {
					t.Fatalf("tol %g: dropped point %d is %g from its segment", tol, k, d)
				}
			}
		}
	}
}

// ellipsePolygon returns a 256-gon approximating the ellipse of centre
// (cx, cy), semi-axes a, b, rotated by th.
func ellipsePolygon(cx, cy, a, b, th float64) [][2]float64 {
	const n = 256
	pts := make([][2]float64, n)
	s, c := math.Sincos(th)
	for k := range pts {
		u := 2 * math.Pi * float64(k) / n
		x, y := a*math.Cos(u), b*math.Sin(u)
		pts[k] = [2]float64{cx + x*c - y*s, cy + x*s + y*c}
	}
	return pts
}

// lungOutlines are hand-drawn right and left lung fields of a frontal chest
// X-ray at 256x256 (the patient's right on the viewer's left), with the
// costophrenic angles and the heart's notch in the left lung.
var lungOutlines = [2][][2]float64{
	{{52, 42}, {70, 30}, {92, 28}, {108, 38}, {114, 62}, {116, 100}, {118, 140}, {120, 178}, {116, 200}, {100, 206}, {80, 212}, {58, 222}, {40, 226}, {34, 206}, {32, 170}, {34, 130}, {38, 92}, {44, 62}},
	{{146, 40}, {164, 30}, {186, 32}, {204, 46}, {214, 76}, {220, 116}, {224, 160}, {226, 200}, {222, 228}, {204, 220}, {184, 212}, {164, 206}, {150, 196}, {158, 172}, {152, 150}, {142, 128}, {138, 96}, {140, 64}},
}

func lungMask() *Mask {
	m := New(256, 256)
	RasterizePolygon(m, lungOutlines[0])
	RasterizePolygon(m, lungOutlines[1])
	return m
}

// TestPolygonsIoU rasterises the simplified polygons of blob-like
// masks and compares them with the masks. The bounds are what the
// simplification keeps at each tolerance: Douglas–Peucker keeps outline
// points, so on convex parts the polygon lies inside the traced outline by
// up to tol, and small blobs lose relatively more.
func TestPolygonsIoU(t *testing.T) {
	rng := rand.New(rand.NewPCG(2024, 11))
	disc := func(r float64) func() *Mask {
		return func() *Mask {
			m := New(256, 256)
			RasterizeCircle(m, 60+136*rng.Float64(), 60+136*rng.Float64(), r)
			return m
		}
	}
	ellipse := func(a, b float64) func() *Mask {
		return func() *Mask {
			m := New(256, 256)
			RasterizePolygon(m, ellipsePolygon(100+56*rng.Float64(), 100+56*rng.Float64(), a, b, math.Pi*rng.Float64()))
			return m
		}
	}
	tests := []struct {
		name   string
		mask   func() *Mask
		tol    float64
		minIoU float64
	}{
		{"disc r=10 tol 0.5", disc(10), 0.5, 0.97},
		{"disc r=15 tol 0.5", disc(15), 0.5, 0.97},
		{"disc r=10 tol 1", disc(10), 1, 0.94},
		{"disc r=15 tol 1", disc(15), 1, 0.95},
		{"disc r=20 tol 1", disc(20), 1, 0.97},
		{"disc r=30 tol 1", disc(30), 1, 0.97},
		{"disc r=40 tol 1", disc(40), 1, 0.97},
		{"ellipse 20x35 tol 1", ellipse(20, 35), 1, 0.97},
		{"ellipse 40x20 tol 1", ellipse(40, 20), 1, 0.97},
		{"ellipse 50x90 tol 1", ellipse(50, 90), 1, 0.97},
		{"lungs tol 1", lungMask, 1, 0.97},
		{"lungs tol 0.5", lungMask, 0.5, 0.97},
		{"disc r=10 tol 0 exact", disc(10), 0, 1},
		{"ellipse 20x35 tol 0 exact", ellipse(20, 35), 0, 1},
		{"lungs tol 0 exact", lungMask, 0, 1},
	}
	const trials = 50
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			lo, sum, points := 1.0, 0.0, 0
			for it := 0; it < trials; it++ {
				m := tc.mask()
				polys := Polygons(m, tc.tol, 0)
				for _, p := range polys {
					points += len(p)
				}
				iou := maskIoUOf(t, m, rasterizeAll(m.Width, m.Height, polys))
				lo, sum = math.Min(lo, iou), sum+iou
			}
			t.Logf("IoU min %.4f mean %.4f over %d masks, %.1f points a mask", lo, sum/trials, trials, float64(points)/trials)
			if lo < tc.minIoU {
				t.Errorf("IoU %.4f < %.2f", lo, tc.minIoU)
			}
		})
	}
}

func TestPolygonsMinArea(t *testing.T) {
	m := maskFromRows(
		"###...",
		"###..#",
		"###...",
		"......",
		"#.....",
		".#....",
	)
	tests := []struct {
		minArea int
		want    int // polygons
	}{{-1, 3}, {0, 3}, {1, 3}, {2, 2}, {3, 1}, {9, 1}, {10, 0}}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.minArea), func(t *testing.T) {
			got := Polygons(m, 0, tc.minArea)
			if len(got) != tc.want {
				t.Errorf("%d polygons, want %d: %v", len(got), tc.want, got)
			}
			if tc.minArea <= 1 && fmt.Sprint(got) != fmt.Sprint(TraceContours(m)) {
				t.Errorf("Polygons at tol 0 = %v, want TraceContours's %v", got, TraceContours(m))
			}
		})
	}
}

// FuzzTraceContours builds a mask of up to 32x32 from the bytes (the first
// two give the size, the rest the pixels, a bit each) and checks the
// tracing invariants: one polygon of >= 3 points per component, each
// rasterising to exactly its component with holes filled, the union giving
// FillHoles(m) (so m itself after FillHoles), simple polygons, and
// Polygons at tol 0 equal to TraceContours; and that simplifying keeps
// >= 3 points and stays deterministic.
func FuzzTraceContours(f *testing.F) {
	f.Add([]byte{4, 4, 0b10010110, 0b01101001})
	f.Add([]byte{1, 1, 1})
	f.Add([]byte{0, 0})
	f.Add([]byte{8, 8, 0xff, 0x81, 0xbd, 0xa5, 0xa5, 0xbd, 0x81, 0xff})
	f.Add([]byte{5, 5, 0x55, 0x55, 0x55, 0x55})
	f.Add([]byte{32, 32, 0xaa, 0x55, 0xaa, 0x55, 0xf0, 0x0f, 0x3c})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		w, h := 1+int(data[0])%32, 1+int(data[1])%32
		m := New(w, h)
		bits := data[2:]
		for i := range m.Pix {
			if i/8 < len(bits) && bits[i/8]>>(i%8)&1 != 0 {
				m.Pix[i] = 1
			}
		}
		polys := checkTraceExact(t, m, w*h <= 256)
		checkTraceExact(t, FillHoles(m), w*h <= 256)
		if got := Polygons(m, 0, 0); fmt.Sprint(got) != fmt.Sprint(polys) {
			t.Fatalf("Polygons at tol 0 = %v, want %v", got, polys)
		}
		for _, tol := range []float64{0.5, 1, 4} {
			a, b := Polygons(m, tol, 0), Polygons(m, tol, 0)
			if fmt.Sprint(a) != fmt.Sprint(b) {
				t.Fatal("Polygons not deterministic")
			}
			for _, p := range a {
				if len(p) < 3 {
					t.Fatalf("tol %g: polygon of %d points", tol, len(p))
				}
			}
		}
	})
}
