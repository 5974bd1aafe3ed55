package mask

import (
	"encoding/binary"
	"math"
	"strings"
	"testing"
)

// maskFromRows builds the expected mask from rows of '#' (set) and '.'.
func maskFromRows(rows ...string) *Mask {
	m := New(len(rows[0]), len(rows))
	for y, r := range rows {
		for x, c := range r {
			if c == '#' {
				m.Set(x, y, true)
			}
		}
	}
	return m
}

func maskRows(m *Mask) string {
	var b strings.Builder
	for y := 0; y < m.Height; y++ {
		for x := 0; x < m.Width; x++ {
			if m.At(x, y) {
				b.WriteByte('#')
			} else {
				b.WriteByte('.')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// referenceInside is an independent, per-pixel even-odd test with the same
// half-open conventions as RasterizePolygon: count the edges that cross the
// line y = cy (min(y0,y1) <= cy < max(y0,y1)) at or left of cx.
func referenceInside(pts [][2]float64, cx, cy float64) bool {
	in := false
	for k := range pts {
		a, b := pts[k], pts[(k+1)%len(pts)]
		if (a[1] <= cy && cy < b[1]) || (b[1] <= cy && cy < a[1]) {
			x := a[0] + (cy-a[1])*(b[0]-a[0])/(b[1]-a[1])
			if x <= cx { // NaN compares false: a crossing at +Inf
				in = !in
			}
		}
	}
	return in
}

func referenceMask(w, h int, pts [][2]float64) *Mask {
	m := New(w, h)
	if len(pts) < 3 {
		return m
	}
	for _, p := range pts {
		if math.IsNaN(p[0]) || math.IsNaN(p[1]) || math.IsInf(p[0], 0) || math.IsInf(p[1], 0) {
			return m
		}
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if referenceInside(pts, float64(x)+0.5, float64(y)+0.5) {
				m.Set(x, y, true)
			}
		}
	}
	return m
}

func TestRasterizePolygon(t *testing.T) {
	tests := []struct {
		name string
		pts  [][2]float64
		want *Mask
	}{
		{
			// Centres x = 0.5, 1.5, 2.5 lie in [0.2, 2.8); y = 0.5, 1.5 in [0.2, 1.8).
			name: "rectangle covering 3x2 centres",
			pts:  [][2]float64{{0.2, 0.2}, {2.8, 0.2}, {2.8, 1.8}, {0.2, 1.8}},
			want: maskFromRows(
				"###.",
				"###.",
				"....",
			),
		},
		{
			// The unit square [1,2]x[1,2] holds exactly the centre (1.5, 1.5).
			name: "unit square on pixel (1,1)",
			pts:  [][2]float64{{1, 1}, {2, 1}, {2, 2}, {1, 2}},
			want: maskFromRows(
				"....",
				".#..",
				"....",
			),
		},
		{
			// [0.5,1.5]^2 has centres on all four sides: (0.5,0.5) is on the
			// top-left corner (inside by the half-open rule), (1.5, .) on the
			// right edge and (., 1.5) on the bottom edge (outside).
			name: "square through pixel centres",
			pts:  [][2]float64{{0.5, 0.5}, {1.5, 0.5}, {1.5, 1.5}, {0.5, 1.5}},
			want: maskFromRows(
				"#...",
				"....",
				"....",
			),
		},
		{
			// Hypotenuse x = 6.1 - 2(y - 0.1). Row j (y = j+0.5) ends at
			// x = 5.3 - 2j: j=0 -> centres 0.5..4.5 (5 px), j=1 -> 3.3 (3 px),
			// j=2 -> 1.3 (1 px), j=3 -> y = 3.5 > 3.1 (none). 9 px.
			name: "triangle",
			pts:  [][2]float64{{0.1, 0.1}, {6.1, 0.1}, {0.1, 3.1}},
			want: maskFromRows(
				"#####..",
				"###....",
				"#......",
				".......",
			),
		},
		{
			// Row j crosses x = 0, j+0.5, 7.5-j, 8 (j < 4) or 0, 7.5-j, j+0.5, 8
			// (j >= 4). Spans [0, x2) and [x3, 8): left triangle i < min(j, 7-j),
			// right triangle i >= max(7-j, j). Counts 12 + 20 = 32 = the two
			// triangles' area 2 * (8*4/2).
			name: "self-intersecting bow tie",
			pts:  [][2]float64{{0, 0}, {8, 8}, {8, 0}, {0, 8}},
			want: maskFromRows(
				".......#",
				"#.....##",
				"##...###",
				"###.####",
				"###.####",
				"##...###",
				"#.....##",
				".......#",
			),
		},
		{
			// [-2, 2]^2 on a 4x3 mask: only centres 0.5 and 1.5 on each axis.
			name: "partly outside, clipped",
			pts:  [][2]float64{{-2, -2}, {2, -2}, {2, 2}, {-2, 2}},
			want: maskFromRows(
				"##..",
				"##..",
				"....",
			),
		},
		{
			name: "far outside on the right and bottom",
			pts:  [][2]float64{{2.2, 1.2}, {1e9, 1.2}, {1e9, 1e9}, {2.2, 1e9}},
			want: maskFromRows(
				"....",
				"..##",
				"..##",
			),
		},
		{
			name: "two points draw nothing",
			pts:  [][2]float64{{0, 0}, {4, 3}},
			want: New(4, 3),
		},
		{
			name: "collinear points draw nothing",
			pts:  [][2]float64{{0, 0}, {2, 1.5}, {4, 3}},
			want: New(4, 3),
		},
		{
			name: "NaN draws nothing",
			pts:  [][2]float64{{0, 0}, {4, 0}, {math.NaN(), 3}},
			want: New(4, 3),
		},
		{
			name: "Inf draws nothing",
			pts:  [][2]float64{{0, 0}, {math.Inf(1), 0}, {4, 3}},
			want: New(4, 3),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := New(tt.want.Width, tt.want.Height)
			RasterizePolygon(m, tt.pts)
			if got, want := maskRows(m), maskRows(tt.want); got != want {
				t.Errorf("got\n%swant\n%s", got, want)
			}
			if ref := referenceMask(m.Width, m.Height, tt.pts); maskRows(ref) != maskRows(m) {
				t.Errorf("differs from the per-pixel reference:\n%s", maskRows(ref))
			}
		})
	}
}

func TestRasterizePolygonCounts(t *testing.T) {
	// Bow tie above: 32 pixels, the area of its two triangles.
	m := New(8, 8)
	RasterizePolygon(m, [][2]float64{{0, 0}, {8, 8}, {8, 0}, {0, 8}})
	if got := m.Count(); got != 32 {
		t.Errorf("bow tie: %d pixels, want 32", got)
	}
}

func TestRasterizePolygonORs(t *testing.T) {
	m := New(4, 3)
	m.Set(3, 2, true)
	RasterizePolygon(m, [][2]float64{{1, 1}, {2, 1}, {2, 2}, {1, 2}})
	want := maskFromRows(
		"....",
		".#..",
		"...#",
	)
	if maskRows(m) != maskRows(want) {
		t.Errorf("got\n%swant\n%s", maskRows(m), maskRows(want))
	}
	// Drawing the same square twice leaves it set (union, not xor).
	RasterizePolygon(m, [][2]float64{{1, 1}, {2, 1}, {2, 2}, {1, 2}})
	if maskRows(m) != maskRows(want) {
		t.Errorf("second draw changed the mask:\n%s", maskRows(m))
	}
}

func TestRasterizePolygonAdjacentShareEdge(t *testing.T) {
	// Two rectangles sharing the edge x = 2.5, which passes through the
	// centres of column 2: the half-open rule gives column 2 to exactly one
	// of them (the one on its right), so together they cover the 5x2 block
	// once and nothing twice.
	a, b := New(5, 2), New(5, 2)
	RasterizePolygon(a, [][2]float64{{0, 0}, {2.5, 0}, {2.5, 2}, {0, 2}})
	RasterizePolygon(b, [][2]float64{{2.5, 0}, {5, 0}, {5, 2}, {2.5, 2}})
	if a.Count() != 4 || b.Count() != 6 {
		t.Errorf("counts %d and %d, want 4 (columns 0,1) and 6 (columns 2,3,4)", a.Count(), b.Count())
	}
	if n, _ := a.IntersectCount(b); n != 0 {
		t.Errorf("%d pixels claimed by both", n)
	}
}

func TestRasterizePentagramEvenOdd(t *testing.T) {
	// A five-pointed star drawn as one self-intersecting path (vertices
	// 0,2,4,1,3 of a regular pentagon of radius 10 around (16,16)). Its
	// centre pentagon is wound twice: even-odd leaves it empty (nonzero
	// would fill it). The inner pentagon's radius is 10*cos72/cos36 = 3.82,
	// so the centres (15.5,15.5) and (16.5,16.5), at most 0.71 from the
	// middle, are in the hole. The top tip has its apex at (16, 6) and a
	// half-angle of 18 deg: 2.5 px below the apex it is 2.5*tan18 = 0.81 px
	// wide on each side, so centres (15.5, 8.5) and (16.5, 8.5) are inside.
	var pts [][2]float64
	for _, k := range []int{0, 2, 4, 1, 3} {
		a := -math.Pi/2 + float64(k)*2*math.Pi/5
		pts = append(pts, [2]float64{16 + 10*math.Cos(a), 16 + 10*math.Sin(a)})
	}
	m := New(32, 32)
	RasterizePolygon(m, pts)
	for _, p := range [][2]int{{15, 15}, {16, 16}, {15, 16}, {16, 15}} {
		if m.At(p[0], p[1]) {
			t.Errorf("pixel %v in the star's centre is set", p)
		}
	}
	for _, p := range [][2]int{{15, 8}, {16, 8}} {
		if !m.At(p[0], p[1]) {
			t.Errorf("pixel %v in the top tip is not set", p)
		}
	}
	if ref := referenceMask(32, 32, pts); maskRows(ref) != maskRows(m) {
		t.Errorf("differs from the per-pixel reference")
	}
}

func TestRasterizeCircle(t *testing.T) {
	// Radius 1.5 around (2, 2): centres at distance^2 < 2.25 are (1.5|2.5,
	// 1.5|2.5) (d^2 = 0.5) and the four at d^2 = 0.25+2.25 = 2.5: outside.
	m := New(4, 4)
	RasterizeCircle(m, 2, 2, 1.5)
	want := maskFromRows(
		"....",
		".##.",
		".##.",
		"....",
	)
	if maskRows(m) != maskRows(want) {
		t.Errorf("got\n%swant\n%s", maskRows(m), maskRows(want))
	}
	// Radius 1.6: d^2 = 2.5 < 2.56, the 4-neighbours of the 2x2 block join.
	m = New(4, 4)
	RasterizeCircle(m, 2, 2, 1.6)
	if got := m.Count(); got != 12 {
		t.Errorf("radius 1.6: %d pixels, want 12", got)
	}
}

// FuzzRasterizePolygon checks the scanline fill against the per-pixel
// reference on small polygons with coordinates on a 1/8 px grid (many exact
// ties with pixel centres and vertices on centre lines), and that arbitrary
// float64 coordinates never panic nor write outside 0/1.
func FuzzRasterizePolygon(f *testing.F) {
	f.Add([]byte{0, 0, 0, 64, 0, 64, 64, 0, 64})
	f.Add([]byte{0, 0, 0, 64, 64, 64, 0, 0, 64})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0x7f, 0xf8, 1, 2, 3, 4, 5, 6, 7, 8, 9})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 1 {
			return
		}
		const w, h = 13, 11
		var pts [][2]float64
		if data[0]%2 == 0 {
			for i := 1; i+1 < len(data) && len(pts) < 12; i += 2 {
				pts = append(pts, [2]float64{float64(int8(data[i]))/8 + 4, float64(int8(data[i+1]))/8 + 4})
			}
		} else {
			for i := 1; i+16 <= len(data) && len(pts) < 8; i += 16 {
				pts = append(pts, [2]float64{
					math.Float64frombits(binary.LittleEndian.Uint64(data[i:])),
					math.Float64frombits(binary.LittleEndian.Uint64(data[i+8:])),
				})
			}
		}
		m := New(w, h)
		RasterizePolygon(m, pts)
		for _, p := range m.Pix {
			if p > 1 {
				t.Fatalf("pixel value %d", p)
			}
		}
		if ref := referenceMask(w, h, pts); maskRows(ref) != maskRows(m) {
			t.Fatalf("points %v:\ngot\n%swant\n%s", pts, maskRows(m), maskRows(ref))
		}
	})
}
