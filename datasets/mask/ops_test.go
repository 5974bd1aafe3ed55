package mask

import (
	"image"
	"slices"
	"strings"
	"testing"
)

// labelRows draws component labels as rows: '.' for 0, '1'..'9' then
// 'a'..'z' for 1..35.
func labelRows(w, h int, labels []int32) string {
	const digits = ".123456789abcdefghijklmnopqrstuvwxyz"
	var b strings.Builder
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			b.WriteByte(digits[labels[y*w+x]])
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func rowsText(rows ...string) string { return strings.Join(rows, "\n") + "\n" }

func TestComponents(t *testing.T) {
	tests := []struct {
		name       string
		in         *Mask
		wantLabels string
		wantSizes  []int
	}{
		{
			name:       "empty",
			in:         maskFromRows("...", "..."),
			wantLabels: rowsText("...", "..."),
			wantSizes:  []int{0},
		},
		{
			name:       "1x1 set",
			in:         maskFromRows("#"),
			wantLabels: rowsText("1"),
			wantSizes:  []int{0, 1},
		},
		{
			name:       "1x1 clear",
			in:         maskFromRows("."),
			wantLabels: rowsText("."),
			wantSizes:  []int{0},
		},
		{
			// Only corners touch: one 8-connected component.
			name:       "diagonal chain",
			in:         maskFromRows("#...", ".#..", "..#.", "...#"),
			wantLabels: rowsText("1...", ".1..", "..1.", "...1"),
			wantSizes:  []int{0, 4},
		},
		{
			// Anti-diagonal: the first pixel of the chain in raster order is
			// its top-right end; the chain is reached through down-left steps.
			name:       "anti-diagonal chain and a speck",
			in:         maskFromRows("...#", "..#.", ".#..", "#..#"),
			wantLabels: rowsText("...1", "..1.", ".1..", "1..2"),
			wantSizes:  []int{0, 4, 1},
		},
		{
			// A U whose arms are reached before its bottom joins them:
			// numbering follows first pixels, so the U is 1 and the
			// speck, whose first pixel comes later, is 2.
			name: "U shape, numbered by first pixel",
			in: maskFromRows(
				"#.#..",
				"#.#.#",
				"###..",
			),
			wantLabels: rowsText(
				"1.1..",
				"1.1.2",
				"111..",
			),
			wantSizes: []int{0, 7, 1},
		},
		{
			name: "two blobs and specks",
			in: maskFromRows(
				"##....#",
				"##.....",
				"....###",
				"#...###",
			),
			wantLabels: rowsText(
				"11....2",
				"11.....",
				"....333",
				"4...333",
			),
			wantSizes: []int{0, 4, 1, 6, 1},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			labels, sizes := Components(tc.in)
			if got := labelRows(tc.in.Width, tc.in.Height, labels); got != tc.wantLabels {
				t.Errorf("labels\n%swant\n%s", got, tc.wantLabels)
			}
			if !slices.Equal(sizes, tc.wantSizes) {
				t.Errorf("sizes %v, want %v", sizes, tc.wantSizes)
			}
		})
	}
}

func TestKeepLargest(t *testing.T) {
	blobs := maskFromRows(
		"##.....#",
		"##......",
		"......#.",
		"#...###.",
		"....###.",
	)
	tests := []struct {
		name string
		in   *Mask
		n    int
		want *Mask
	}{
		{
			name: "two blobs and specks, keep 2",
			in:   blobs, n: 2,
			want: maskFromRows(
				"##......",
				"##......",
				"......#.",
				"....###.",
				"....###.",
			),
		},
		{
			name: "keep 1",
			in:   blobs, n: 1,
			want: maskFromRows(
				"........",
				"........",
				"......#.",
				"....###.",
				"....###.",
			),
		},
		{name: "keep 0", in: blobs, n: 0, want: New(8, 5)},
		{name: "keep -1", in: blobs, n: -1, want: New(8, 5)},
		{name: "keep more than there are", in: blobs, n: 10, want: blobs},
		{
			// Three single pixels: equal sizes, the first in raster order
			// wins.
			name: "ties by raster order",
			in:   maskFromRows("..#", "...", "#.#"),
			n:    2,
			want: maskFromRows("..#", "...", "#.."),
		},
		{
			// The diagonal pair is one component of 2 and beats the
			// single pixel.
			name: "diagonal pair is one component",
			in:   maskFromRows("#...", "....", "..#.", "...#"),
			n:    1,
			want: maskFromRows("....", "....", "..#.", "...#"),
		},
		{name: "empty", in: New(3, 2), n: 2, want: New(3, 2)},
		{name: "1x1", in: maskFromRows("#"), n: 2, want: maskFromRows("#")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.in.Clone()
			got := KeepLargest(tc.in, tc.n)
			if maskRows(got) != maskRows(tc.want) {
				t.Errorf("got\n%swant\n%s", maskRows(got), maskRows(tc.want))
			}
			if maskRows(tc.in) != maskRows(before) {
				t.Error("the input mask changed")
			}
		})
	}
}

func TestFillHoles(t *testing.T) {
	tests := []struct {
		name     string
		in, want *Mask
	}{
		{
			name: "ring",
			in: maskFromRows(
				".....",
				".###.",
				".#.#.",
				".###.",
				".....",
			),
			want: maskFromRows(
				".....",
				".###.",
				".###.",
				".###.",
				".....",
			),
		},
		{
			// The notch reaches the border through an edge: not a hole.
			name: "notch open to the border",
			in: maskFromRows(
				"####",
				"#..#",
				"#.##",
				"#.##",
			),
			want: maskFromRows(
				"####",
				"#..#",
				"#.##",
				"#.##",
			),
		},
		{
			// The inside reaches the outside only through a diagonal gap
			// between two set pixels (8-connected): a hole.
			name: "hole open only by a corner",
			in: maskFromRows(
				"......",
				".###..",
				".#..#.",
				".#.#..",
				".##...",
				"......",
			),
			want: maskFromRows(
				"......",
				".###..",
				".####.",
				".###..",
				".##...",
				"......",
			),
		},
		{
			// A speck inside a ring's hole merges with the ring.
			name: "nested component",
			in: maskFromRows(
				"#####",
				"#...#",
				"#.#.#",
				"#...#",
				"#####",
			),
			want: maskFromRows(
				"#####",
				"#####",
				"#####",
				"#####",
				"#####",
			),
		},
		{
			// A background region touching the border anywhere stays,
			// even when the set pixels split the background in two.
			name: "wall across the image",
			in: maskFromRows(
				"..#..",
				"..#..",
				"..#..",
			),
			want: maskFromRows(
				"..#..",
				"..#..",
				"..#..",
			),
		},
		{name: "empty", in: New(4, 3), want: New(4, 3)},
		{name: "full", in: maskFromRows("###", "###"), want: maskFromRows("###", "###")},
		{name: "1x1 clear", in: maskFromRows("."), want: maskFromRows(".")},
		{name: "1x1 set", in: maskFromRows("#"), want: maskFromRows("#")},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := tc.in.Clone()
			got := FillHoles(tc.in)
			if maskRows(got) != maskRows(tc.want) {
				t.Errorf("got\n%swant\n%s", maskRows(got), maskRows(tc.want))
			}
			if maskRows(tc.in) != maskRows(before) {
				t.Error("the input mask changed")
			}
		})
	}
}

func TestBoundingBox(t *testing.T) {
	tests := []struct {
		name   string
		in     *Mask
		want   image.Rectangle
		wantOK bool
	}{
		{"empty", New(3, 3), image.Rectangle{}, false},
		{"1x1", maskFromRows("#"), image.Rect(0, 0, 1, 1), true},
		{"one pixel", maskFromRows("....", "..#.", "...."), image.Rect(2, 1, 3, 2), true},
		{"spread", maskFromRows(".#..", "....", "...#", "#..."), image.Rect(0, 0, 4, 4), true},
		{"two pixels", maskFromRows(".....", ".#...", "...#.", "....."), image.Rect(1, 1, 4, 3), true},
		{"nil", nil, image.Rectangle{}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, ok := BoundingBox(tc.in)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("BoundingBox = %v, %v; want %v, %v", got, ok, tc.want, tc.wantOK)
			}
		})
	}
}

func TestSplitLungs(t *testing.T) {
	tests := []struct {
		name                string
		in                  *Mask
		wantRight, wantLeft *Mask
	}{
		{
			// The viewer's left is the patient's right.
			name: "two lungs",
			in: maskFromRows(
				"##....##",
				"##....##",
				"##.....#",
			),
			wantRight: maskFromRows(
				"##......",
				"##......",
				"##......",
			),
			wantLeft: maskFromRows(
				"......##",
				"......##",
				".......#",
			),
		},
		{
			// The speck is dropped: only the two largest components count.
			name: "two lungs and a speck",
			in: maskFromRows(
				"##..#.##",
				"##....##",
				"##....##",
			),
			wantRight: maskFromRows(
				"##......",
				"##......",
				"##......",
			),
			wantLeft: maskFromRows(
				"......##",
				"......##",
				"......##",
			),
		},
		{
			// Both on the viewer's left half: the one further left is
			// the right lung.
			name: "both on one half",
			in: maskFromRows(
				"#.#.....",
				"#.#.....",
			),
			wantRight: maskFromRows(
				"#.......",
				"#.......",
			),
			wantLeft: maskFromRows(
				"..#.....",
				"..#.....",
			),
		},
		{
			// Equal centroids (one above the other): the first in raster
			// order is the right lung.
			name: "equal centroids",
			in: maskFromRows(
				".#..",
				"....",
				".#..",
			),
			wantRight: maskFromRows(
				".#..",
				"....",
				"....",
			),
			wantLeft: maskFromRows(
				"....",
				"....",
				".#..",
			),
		},
		{
			name:      "one lung on the viewer's left",
			in:        maskFromRows("##....", "##...."),
			wantRight: maskFromRows("##....", "##...."),
			wantLeft:  New(6, 2),
		},
		{
			name:      "one lung on the viewer's right",
			in:        maskFromRows("....##", "....##"),
			wantRight: New(6, 2),
			wantLeft:  maskFromRows("....##", "....##"),
		},
		{
			// Centroid x = 2 = Width/2: not on the left half.
			name:      "one lung on the middle",
			in:        maskFromRows(".##.", ".##."),
			wantRight: New(4, 2),
			wantLeft:  maskFromRows(".##.", ".##."),
		},
		{
			name:      "empty",
			in:        New(4, 2),
			wantRight: New(4, 2),
			wantLeft:  New(4, 2),
		},
		{
			name:      "1x1",
			in:        maskFromRows("#"),
			wantRight: maskFromRows("."),
			wantLeft:  maskFromRows("#"),
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			right, left := SplitLungs(tc.in)
			if maskRows(right) != maskRows(tc.wantRight) {
				t.Errorf("right\n%swant\n%s", maskRows(right), maskRows(tc.wantRight))
			}
			if maskRows(left) != maskRows(tc.wantLeft) {
				t.Errorf("left\n%swant\n%s", maskRows(left), maskRows(tc.wantLeft))
			}
		})
	}
}

// TestMaskOpsInvalid: nil and malformed masks give empty results of the
// same shape, without panicking.
func TestMaskOpsInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   *Mask
	}{
		{"nil", nil},
		{"zero size", &Mask{}},
		{"negative width", &Mask{Width: -2, Height: 3, Pix: make([]uint8, 6)}},
		{"short Pix", &Mask{Width: 4, Height: 4, Pix: []uint8{1, 1, 1}}},
		{"long Pix", &Mask{Width: 1, Height: 1, Pix: []uint8{1, 1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			labels, sizes := Components(tc.in)
			if labels != nil || !slices.Equal(sizes, []int{0}) {
				t.Errorf("Components = %v, %v; want nil, [0]", labels, sizes)
			}
			if _, ok := BoundingBox(tc.in); ok {
				t.Error("BoundingBox ok")
			}
			if TraceContours(tc.in) != nil || Polygons(tc.in, 1, 0) != nil {
				t.Error("polygons from an invalid mask")
			}
			right, left := SplitLungs(tc.in)
			for name, got := range map[string]*Mask{
				"KeepLargest": KeepLargest(tc.in, 2),
				"FillHoles":   FillHoles(tc.in),
				"right":       right,
				"left":        left,
			} {
				if got == nil {
					t.Fatalf("%s: nil", name)
				}
				if tc.in != nil && (got.Width != tc.in.Width || got.Height != tc.in.Height || len(got.Pix) != len(tc.in.Pix)) {
					t.Errorf("%s: shape %dx%d/%d, want %dx%d/%d", name, got.Width, got.Height, len(got.Pix), tc.in.Width, tc.in.Height, len(tc.in.Pix))
				}
				if slices.Contains(got.Pix, 1) {
					t.Errorf("%s: pixels set", name)
				}
			}
		})
	}
}
