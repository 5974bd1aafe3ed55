package mask

import (
	"math"
	"strings"
	"testing"
)

// zoneRows draws the zones of a lung in one picture: '.' for background,
// '0', '1', '2' for a pixel of the upper, middle, lower zone, '*' for a pixel
// in none or several zones.
func zoneRows(zones [3]*Mask) []string {
	m := zones[0]
	rows := make([]string, m.Height)
	for y := range rows {
		var b strings.Builder
		for x := range m.Width {
			c, n := byte('.'), 0
			for k, z := range zones {
				if z.At(x, y) {
					c = byte('0' + k)
					n++
				}
			}
			if n > 1 {
				c = '*'
			}
			b.WriteByte(c)
		}
		rows[y] = b.String()
	}
	return rows
}

func TestLungZones(t *testing.T) {
	tests := []struct {
		name string
		lung []string
		want []string // zoneRows of the result
	}{
		{
			name: "9 rows: 3 per zone",
			lung: []string{"....", ".##.", ".##.", ".##.", ".##.", ".##.", ".##.", ".##.", ".##.", ".##.", "...."},
			want: []string{"....", ".00.", ".00.", ".00.", ".11.", ".11.", ".11.", ".22.", ".22.", ".22.", "...."},
		},
		{
			// H = 10: floor(3d/10) for d = 0..9 is 0,0,0,0,1,1,1,2,2,2.
			name: "10 rows: 4, 3, 3",
			lung: []string{"..", "#.", "#.", "#.", "#.", "#.", "#.", "#.", "#.", "#.", "#."},
			want: []string{"..", "0.", "0.", "0.", "0.", "1.", "1.", "1.", "2.", "2.", "2."},
		},
		{
			// H = 11: floor(3d/11) for d = 0..10 is 0,0,0,0,1,1,1,1,2,2,2.
			name: "11 rows: 4, 4, 3",
			lung: []string{"#", "#", "#", "#", "#", "#", "#", "#", "#", "#", "#"},
			want: []string{"0", "0", "0", "0", "1", "1", "1", "1", "2", "2", "2"},
		},
		{
			name: "1 row: all upper",
			lung: []string{"...", ".##", "..."},
			want: []string{"...", ".00", "..."},
		},
		{
			// H = 2: floor(3d/2) for d = 0, 1 is 0, 1: no lower zone.
			name: "2 rows: upper and middle, no lower",
			lung: []string{"##", "##"},
			want: []string{"00", "11"},
		},
		{
			// Rows 1..6 (H = 6), two per zone; the gap at row 3 and the
			// ragged edges stay as they are; the stray pixel in row 6
			// belongs to the lower zone.
			name: "irregular lung with a gap row",
			lung: []string{
				"......",
				"..##..",
				".####.",
				"......",
				"#####.",
				".###..",
				".....#",
				"......",
			},
			want: []string{
				"......",
				"..00..",
				".0000.",
				"......",
				"11111.",
				".222..",
				".....2",
				"......",
			},
		},
		{
			name: "empty",
			lung: []string{"...", "..."},
			want: []string{"...", "..."},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			lung := maskFromRows(tt.lung...)
			before := lung.Clone()
			zones := LungZones(lung)
			for k, z := range zones {
				if z == nil || z.Width != lung.Width || z.Height != lung.Height || len(z.Pix) != len(lung.Pix) {
					t.Fatalf("zone %d: %+v, want a %dx%d mask", k, z, lung.Width, lung.Height)
				}
				if z == lung {
					t.Fatalf("zone %d is the input mask", k)
				}
			}
			got := zoneRows(zones)
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("zones\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
			if maskRows(lung) != maskRows(before) {
				t.Error("the lung mask changed")
			}
		})
	}
}

func TestLungZonesInvalid(t *testing.T) {
	for _, m := range []*Mask{nil, {Width: 2, Height: 2, Pix: []uint8{1}}, {Width: 0, Height: 3}} {
		zones := LungZones(m)
		for k, z := range zones {
			if z == nil || z.Count() != 0 {
				t.Errorf("%+v: zone %d = %+v, want an all-zero mask", m, k, z)
			}
		}
		if zones[0] == zones[1] || zones[1] == zones[2] {
			t.Errorf("%+v: zones share a mask", m)
		}
	}
}

// TestLungZonesPartition checks on pseudo-random masks that the three zones
// partition the lung and that each zone spans about a third of its rows.
func TestLungZonesPartition(t *testing.T) {
	state := uint32(7)
	next := func() uint32 { state = state*1664525 + 1013904223; return state >> 16 }
	for iter := range 200 {
		w, h := 1+int(next()%9), 1+int(next()%30)
		m := New(w, h)
		for i := range m.Pix {
			if next()%3 == 0 {
				m.Pix[i] = 1
			}
		}
		zones := LungZones(m)
		for i, p := range m.Pix {
			n := 0
			for _, z := range zones {
				n += int(z.Pix[i])
			}
			if int(p) != n {
				t.Fatalf("iter %d: pixel %d is %d in the lung, in %d zones", iter, i, p, n)
			}
		}
		box, ok := BoundingBox(m)
		if !ok {
			continue
		}
		hh := box.Dy()
		for k, z := range zones {
			zb, ok := BoundingBox(z)
			if !ok {
				continue
			}
			// Zone k holds rows d = y-y0 with k*H <= 3d < (k+1)*H.
			lo, hi := zb.Min.Y-box.Min.Y, zb.Max.Y-1-box.Min.Y
			if 3*lo < k*hh || 3*hi >= (k+1)*hh {
				t.Fatalf("iter %d: zone %d holds rows %d..%d of a %d-row lung", iter, k, lo, hi, hh)
			}
		}
	}
}

func TestBrixiaZones(t *testing.T) {
	// The right lung (image left) has 3 rows, the left lung 6: each is cut
	// by its own height.
	m := maskFromRows(
		"##...#",
		"##...#",
		"##...#",
		".....#",
		".....#",
		".....#",
	)
	right, left := SplitLungs(m)
	zones := BrixiaZones(right, left)
	want := [6][]string{
		{"##....", "......", "......", "......", "......", "......"},
		{"......", "##....", "......", "......", "......", "......"},
		{"......", "......", "##....", "......", "......", "......"},
		{".....#", ".....#", "......", "......", "......", "......"},
		{"......", "......", ".....#", ".....#", "......", "......"},
		{"......", "......", "......", "......", ".....#", ".....#"},
	}
	for k, z := range zones {
		if got, w := maskRows(z), strings.Join(want[k], "\n")+"\n"; got != w {
			t.Errorf("zone %c:\n%swant\n%s", "ABCDEF"[k], got, w)
		}
	}
	empty := BrixiaZones(nil, New(3, 3))
	for k, z := range empty {
		if z == nil || z.Count() != 0 {
			t.Errorf("empty lungs: zone %d = %+v", k, z)
		}
	}
}

func TestZoneShares(t *testing.T) {
	right := maskFromRows(
		"##....",
		"##....",
		"##....",
		"......",
	)
	left := maskFromRows(
		"......",
		"......",
		"......",
		"......",
	)
	opacity := maskFromRows(
		"......",
		"#.....",
		"##...#",
		"######",
	)
	shares, err := ZoneShares(opacity, BrixiaZones(right, left))
	if err != nil {
		t.Fatal(err)
	}
	want := [6]float64{0, 0.5, 1, math.NaN(), math.NaN(), math.NaN()}
	for k := range shares {
		if !(shares[k] == want[k] || math.IsNaN(shares[k]) && math.IsNaN(want[k])) {
			t.Errorf("zone %c: share %v, want %v", "ABCDEF"[k], shares[k], want[k])
		}
	}

	zones := BrixiaZones(right, left)
	zones[4] = New(3, 4)
	if _, err := ZoneShares(opacity, zones); err == nil || !strings.Contains(err.Error(), "zone E is 3x4") {
		t.Errorf("error %v, want one naming zone E", err)
	}
	zones[4] = nil
	if _, err := ZoneShares(opacity, zones); err == nil || !strings.Contains(err.Error(), "zone E is nil") {
		t.Errorf("error %v, want one naming zone E", err)
	}
	if _, err := ZoneShares(nil, BrixiaZones(right, left)); err == nil {
		t.Error("nil opacity: no error")
	}
}
