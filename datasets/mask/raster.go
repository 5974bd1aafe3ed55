package mask

import (
	"math"
	"slices"

	"github.com/covidxray/opacity/num"
)

// RasterizePolygon sets in m every pixel whose centre lies inside the polygon
// pts, by the even-odd rule, and leaves the other pixels as they are (m is
// OR-ed into, so several polygons of one class make their union). The
// polygon is closed implicitly (last point to first); points are (x, y) in
// pixels, x to the right, y down, and the centre of pixel (i, j) is at
// (i+0.5, j+0.5). Pixels outside m are clipped.
//
// Centres exactly on an edge follow a half-open rule, so that two polygons
// sharing an edge never both claim, nor both miss, a centre on it: a centre
// counts as inside when it is on a left or top edge, outside on a right or
// bottom edge. Precisely, on row j with crossings x1 <= x2 <= ... of the line
// y = j+0.5 with the edges (an edge from y0 to y1 crosses it when
// min(y0,y1) <= j+0.5 < max(y0,y1)), pixel i is set when i+0.5 lies in some
// [x(2k-1), x(2k)).
//
// The fill works by scanlines (crossings per row, spans between pairs), so
// its cost grows with the polygon's height and number of edges, not with its
// area times its edge count. Polygons with fewer than 3 points, or with a
// non-finite coordinate, draw nothing.
func RasterizePolygon(m *Mask, pts [][2]float64) {
	if !m.valid() || len(pts) < 3 {
		return
	}
	for _, p := range pts {
		if !num.Finite(p[0], p[1]) {
			return
		}
	}
	edges := make([]rasterEdge, 0, len(pts))
	for k := range pts {
		a, b := pts[k], pts[(k+1)%len(pts)]
		if a[1] == b[1] {
			continue // horizontal: never crosses a centre line under the half-open rule
		}
		e := rasterEdge{x0: a[0], y0: a[1], x1: b[0], y1: b[1]}
		lo, hi := math.Min(a[1], b[1]), math.Max(a[1], b[1])
		// Rows j with lo <= j+0.5 < hi: j from ceil(lo-0.5) to ceil(hi-0.5)-1.
		e.row0 = clampRow(math.Ceil(lo-0.5), m.Height)
		e.row1 = clampRow(math.Ceil(hi-0.5), m.Height)
		if e.row0 < e.row1 {
			edges = append(edges, e)
		}
	}
	if len(edges) == 0 {
		return
	}
	slices.SortFunc(edges, func(a, b rasterEdge) int { return a.row0 - b.row0 })

	var active []int // indices into edges
	xs := make([]float64, 0, 16)
	next := 0
	rowStart := edges[0].row0
	rowEnd := 0
	for _, e := range edges {
		rowEnd = max(rowEnd, e.row1)
	}
	for j := rowStart; j < rowEnd; j++ {
		for next < len(edges) && edges[next].row0 == j {
			active = append(active, next)
			next++
		}
		// Drop edges that ended above this row.
		kept := active[:0]
		for _, k := range active {
			if edges[k].row1 > j {
				kept = append(kept, k)
			}
		}
		active = kept
		if len(active) == 0 {
			continue
		}
		y := float64(j) + 0.5
		xs = xs[:0]
		for _, k := range active {
			xs = append(xs, clampCrossing(edges[k].crossingX(y), m.Width))
		}
		slices.Sort(xs)
		row := m.Pix[j*m.Width : (j+1)*m.Width]
		for p := 0; p+1 < len(xs); p += 2 {
			// Pixels i with xa <= i+0.5 < xb: i from ceil(xa-0.5) to ceil(xb-0.5)-1.
			i0 := int(math.Ceil(xs[p] - 0.5))
			i1 := int(math.Ceil(xs[p+1] - 0.5))
			i0 = max(i0, 0)
			i1 = min(i1, m.Width)
			for i := i0; i < i1; i++ {
				row[i] = 1
			}
		}
	}
}

// rasterEdge is one non-horizontal edge of a polygon and the rows whose
// centre line it crosses, [row0, row1), already clipped to the mask.
type rasterEdge struct {
	x0, y0, x1, y1 float64
	row0, row1     int
}

// crossingX returns the x where the edge crosses the horizontal line at y.
// With huge (finite) coordinates the arithmetic may give ±Inf or NaN; NaN is
// returned as +Inf, so that it counts as a crossing right of every centre.
func (e rasterEdge) crossingX(y float64) float64 {
	x := e.x0 + (y-e.y0)*(e.x1-e.x0)/(e.y1-e.y0)
	if math.IsNaN(x) {
		return math.Inf(1)
	}
	return x
}

// clampRow converts a row bound to an int in [0, height] without overflow.
func clampRow(v float64, height int) int {
	if v <= 0 {
		return 0
	}
	if v >= float64(height) {
		return height
	}
	return int(v)
}

// clampCrossing limits a crossing to [-1, width+1]; that keeps its order with
// respect to every pixel centre of the row (all in [0.5, width-0.5]) and
// makes the conversion to int safe.
func clampCrossing(x float64, width int) float64 {
	if x < -1 {
		return -1
	}
	if x > float64(width)+1 {
		return float64(width) + 1
	}
	return x
}

// RasterizeCircle sets in m every pixel whose centre lies inside the circle
// of centre (cx, cy) and radius r, with the same half-open rule on the
// boundary as RasterizePolygon (a centre at the circle's left edge counts,
// at its right edge does not). Non-finite or negative values draw nothing.
func RasterizeCircle(m *Mask, cx, cy, r float64) {
	if !m.valid() || !num.Finite(cx, cy, r) || r < 0 {
		return
	}
	j0 := clampRow(math.Ceil(cy-r-0.5), m.Height)
	j1 := clampRow(math.Ceil(cy+r-0.5), m.Height)
	for j := j0; j < j1; j++ {
		dy := float64(j) + 0.5 - cy
		h := r*r - dy*dy
		if !(h > 0) {
			continue
		}
		dx := math.Sqrt(h)
		xa := clampCrossing(cx-dx, m.Width)
		xb := clampCrossing(cx+dx, m.Width)
		i0 := max(int(math.Ceil(xa-0.5)), 0)
		i1 := min(int(math.Ceil(xb-0.5)), m.Width)
		row := m.Pix[j*m.Width : (j+1)*m.Width]
		for i := i0; i < i1; i++ {
			row[i] = 1
		}
	}
}

// valid reports whether m is a usable mask: positive size and Pix of the
// right length.
func (m *Mask) valid() bool {
	return m != nil && m.Width > 0 && m.Height > 0 && len(m.Pix) == m.Width*m.Height
}
