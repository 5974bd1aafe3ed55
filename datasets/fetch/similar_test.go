package fetch

import (
	"fmt"
	"image"
	"math"
	"math/rand"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/internal/fixture"
	"github.com/covidxray/opacity/datasets/xrayfile"
)

// halves returns a w×h image, 0 left of column x0 and 255 from it on
// (vertical=false), or 0 above row x0 and 255 from it on (vertical=true).
func halves(w, h, x0 int, vertical bool) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			if (!vertical && x >= x0) || (vertical && y >= x0) {
				img.Pix[y*img.Stride+x] = 255
			}
		}
	}
	return img
}

func TestResizeBilinear8ByHand(t *testing.T) {
	// A 64×64 image whose rows are the ramp 0, 4, ..., 252 (value 4·column),
	// to 32×32: the scale is 2, so the triangle reaches 2 px each side of
	// the centre 2k+1. Inside, columns 2k-1 .. 2k+2 weigh 1/8, 3/8, 3/8,
	// 1/8: 4·(2k+0.5) = 8k+2. At the left edge, columns 0, 1, 2 weigh
	// 0.75, 0.75, 0.25 (normalised /1.75): (0·3 + 4·3 + 8)/7 = 20/7 → 3. At
	// the right edge, columns 61, 62, 63 weigh 0.25, 0.75, 0.75:
	// (244·0.25 + 248·0.75 + 252·0.75)/1.75 = 249.14 → 249. The rows are
	// all the same, so the vertical pass keeps them.
	img := image.NewGray(image.Rect(0, 0, 64, 64))
	for y := 0; y < 64; y++ {
		for x := 0; x < 64; x++ {
			img.Pix[y*img.Stride+x] = uint8(4 * x)
		}
	}
	got := resizeBilinear8(img, 32, 32)
	want := map[int]uint8{0: 3, 1: 10, 2: 18, 15: 122, 30: 242, 31: 249}
	for y := 0; y < 32; y++ {
		for x, v := range want {
			if got[y*32+x] != v {
				t.Fatalf("(%d, %d): %d, want %d", x, y, got[y*32+x], v)
			}
		}
	}
	// The same size: unchanged (each output pixel is its input pixel).
	small := image.NewGray(image.Rect(0, 0, 3, 2))
	copy(small.Pix, []uint8{10, 200, 30, 40, 0, 255})
	if got := resizeBilinear8(small, 3, 2); fmt.Sprint(got) != fmt.Sprint(small.Pix) {
		t.Errorf("same size: %v, want %v", got, small.Pix)
	}
	// A 2×1 image to 4×1 (growing: the triangle keeps its width 1):
	// centres 0.25, 0.75, 1.25, 1.75 → 10, 10·0.75+30·0.25 = 15,
	// 10·0.25+30·0.75 = 25, 30.
	two := image.NewGray(image.Rect(0, 0, 2, 1))
	copy(two.Pix, []uint8{10, 30})
	if got := resizeBilinear8(two, 4, 1); fmt.Sprint(got) != "[10 15 25 30]" {
		t.Errorf("2 to 4: %v, want [10 15 25 30]", got)
	}
	// A sub-image: its bounds, not its parent's, are resampled.
	sub := halves(8, 8, 4, false).SubImage(image.Rect(4, 0, 8, 4)).(*image.Gray)
	for _, v := range resizeBilinear8(sub, 2, 2) {
		if v != 255 {
			t.Errorf("sub-image: %v, want all 255", resizeBilinear8(sub, 2, 2))
			break
		}
	}
}

func TestThumbnail32ByHand(t *testing.T) {
	// Left half 0, right half 255, already 32×32 (the resampling keeps
	// it): mean 127.5, values ±127.5, norm 127.5·√1024 = 127.5·32, so -1/32
	// on the left 16 columns and +1/32 on the right ones.
	th := Thumbnail32(halves(32, 32, 16, false))
	if len(th) != 1024 {
		t.Fatalf("%d values", len(th))
	}
	for i, v := range th {
		want := 1.0 / 32
		if i%32 < 16 {
			want = -want
		}
		if math.Abs(v-want) > 1e-12 {
			t.Fatalf("value %d: %v, want %v", i, v, want)
		}
	}
	// Uniform images have no thumbnail to compare: all zeros.
	flat := image.NewGray(image.Rect(0, 0, 40, 30))
	for i := range flat.Pix {
		flat.Pix[i] = 77
	}
	for _, img := range []*image.Gray{flat, image.NewGray(image.Rect(0, 0, 0, 0))} {
		th := Thumbnail32(img)
		if len(th) != 1024 {
			t.Fatalf("%d values", len(th))
		}
		for _, v := range th {
			if v != 0 {
				t.Fatalf("uniform image: thumbnail has %v", v)
			}
		}
	}
}

func TestNCCByHand(t *testing.T) {
	left := Thumbnail32(halves(32, 32, 16, false))    // ±1/32 by column
	top := Thumbnail32(halves(32, 32, 16, true))      // ±1/32 by row
	quarter := Thumbnail32(halves(32, 32, 24, false)) // right quarter bright
	// Left/right against top/bottom: Σ sign(x)·sign(y)/1024 = 0.
	if s := NCC(left, top); math.Abs(s) > 1e-12 {
		t.Errorf("NCC(left, top) = %v, want 0", s)
	}
	// Right quarter: 24 columns at -63.75, 8 at +191.25 (mean 63.75), norm
	// √(32·(24·63.75² + 8·191.25²)) = √12484800; the dot with ±1/32 by
	// column is 32·(16·63.75 - 8·63.75 + 8·191.25)/32 = 2040, so NCC =
	// 2040/√12484800 = 1/√3.
	if s, want := NCC(left, quarter), 1/math.Sqrt(3); math.Abs(s-want) > 1e-12 {
		t.Errorf("NCC(left, quarter) = %v, want 1/√3 = %v", s, want)
	}
	// Itself 1; its negative -1; brightness and contrast do not matter.
	if s := NCC(left, left); math.Abs(s-1) > 1e-12 {
		t.Errorf("NCC(a, a) = %v", s)
	}
	neg := halves(32, 32, 16, false)
	for i := range neg.Pix {
		neg.Pix[i] = 255 - neg.Pix[i]
	}
	if s := NCC(left, Thumbnail32(neg)); math.Abs(s+1) > 1e-12 {
		t.Errorf("NCC(a, -a) = %v, want -1", s)
	}
	dim := halves(32, 32, 16, false)
	for i := range dim.Pix {
		dim.Pix[i] = dim.Pix[i]/5 + 30
	}
	if s := NCC(left, Thumbnail32(dim)); math.Abs(s-1) > 1e-12 {
		t.Errorf("NCC(a, a/5+30) = %v, want 1", s)
	}
	// The same picture at 4 times the size: the edge is blurred over two
	// thumbnail columns (the 8-px triangle straddles it), still close to 1.
	if s := NCC(left, Thumbnail32(halves(128, 128, 64, false))); s < 0.95 || s > 1 {
		t.Errorf("NCC(a, a at 128 px) = %v, want in [0.95, 1]", s)
	}
	if s := NCC(left, make([]float64, 1024)); s != 0 {
		t.Errorf("NCC with a uniform image = %v, want 0", s)
	}
}

// noiseGray returns a w×h image of uniform noise.
func noiseGray(rng *rand.Rand, w, h int) *image.Gray {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(rng.Intn(256))
	}
	return img
}

func TestNearDuplicatePairs(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	var names []string
	var thumbs [][]float64
	add := func(name string, img *image.Gray) {
		names = append(names, name)
		thumbs = append(thumbs, Thumbnail32(img))
	}
	a := noiseGray(rng, 64, 64)
	add("z.png", a)
	for i := 0; i < 200; i++ {
		add(fmt.Sprintf("n%03d.png", i), noiseGray(rng, 64, 64))
	}
	// A copy of a, brighter: NCC 1 with z.png, listed as ("b.png", "z.png").
	b := image.NewGray(a.Rect)
	for i, v := range a.Pix {
		b.Pix[i] = v/2 + 100
	}
	add("b.png", b)
	// The left/right and left/quarter images: 1/√3 ≈ 0.577, not a pair.
	add("left.png", halves(32, 32, 16, false))
	add("quarter.png", halves(32, 32, 24, false))
	got := NearDuplicatePairs(names, thumbs, 0.99)
	if len(got) != 1 || got[0].A != "b.png" || got[0].B != "z.png" || math.Abs(got[0].Similarity-1) > 1e-3 {
		t.Errorf("pairs %+v, want b.png z.png ~1", got)
	}
	if got := NearDuplicatePairs(names, thumbs, 0.5); len(got) != 2 || got[1].A != "left.png" || got[1].B != "quarter.png" {
		t.Errorf("threshold 0.5: %+v", got)
	}
	if k, s := MostSimilar(thumbs[len(thumbs)-1], thumbs[:len(thumbs)-1]); names[k] != "left.png" || math.Abs(s-1/math.Sqrt(3)) > 1e-9 {
		t.Errorf("MostSimilar: %s %v", names[k], s)
	}
	if k, _ := MostSimilar(thumbs[0], nil); k != -1 {
		t.Errorf("MostSimilar of nothing: %d", k)
	}
}

var realQUExThumbs struct {
	sync.Once
	names  []string
	thumbs [][]float64
	err    error
}

// loadThumbs returns the thumbnails of the images of dir (sorted by name).
func loadThumbs(dir string) ([]string, [][]float64, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil, err
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && hasExt(e.Name(), []string{".png", ".jpg", ".jpeg"}) {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	thumbs := make([][]float64, len(names))
	var wg sync.WaitGroup
	errs := make([]error, len(names))
	next := make(chan int)
	for w := 0; w < 2; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				img, err := xrayfile.ReadGray(filepath.Join(dir, names[i]))
				errs[i] = err
				if err == nil {
					thumbs[i] = Thumbnail32(img)
				}
			}
		}()
	}
	for i := range names {
		next <- i
	}
	close(next)
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return names, thumbs, nil
}

// TestNearDuplicatesRealData computes the near-duplicate pairs of the
// reference copy's covid-qu-ex images and compares them with its
// near-duplicates.csv (26 pairs), as unordered pairs.
func TestNearDuplicatesRealData(t *testing.T) {
	data := fixture.RealDataDir(t)
	dir := filepath.Join(data, datasets.CohortCovidQUEx)
	if _, err := os.Stat(filepath.Join(dir, datasets.QUExNearDuplicatesFile)); err != nil {
		t.Skipf("no covid-qu-ex in %s: %v", data, err)
	}
	if testing.Short() {
		t.Skip("decodes 3,202 images: not with -short")
	}
	q := &realQUExThumbs
	q.Do(func() { q.names, q.thumbs, q.err = loadThumbs(filepath.Join(dir, datasets.QUExImagesDir)) })
	if q.err != nil {
		t.Fatal(q.err)
	}
	want, err := datasets.ReadNearDuplicates(filepath.Join(dir, datasets.QUExNearDuplicatesFile))
	if err != nil {
		t.Fatal(err)
	}
	key := func(a, b string) string {
		if b < a {
			a, b = b, a
		}
		return a + " " + b
	}
	wantSet := map[string]bool{}
	for _, p := range want {
		wantSet[key(p[0], p[1])] = true
	}
	got := NearDuplicatePairs(q.names, q.thumbs, QUExNearDuplicateNCC)
	gotSet := map[string]bool{}
	for _, p := range got {
		gotSet[key(p.A, p.B)] = true
		if !wantSet[key(p.A, p.B)] {
			t.Errorf("extra pair %s %s (%.4f)", p.A, p.B, p.Similarity)
		}
	}
	for k := range wantSet {
		if !gotSet[k] {
			t.Errorf("pair %s not found", k)
		}
	}
	t.Logf("%d images, %d pairs (reference: %d)", len(q.names), len(got), len(want))
}

// TestOverlapRealData checks the kept side of the overlap removal on the
// reference copy: none of its covid-qu-ex images has an NCC >= 0.95 with an
// image of its cxr-seg/images/ or cohen/images/ (the 77 images it removed
// are not in the copy, so that side cannot be checked offline).
func TestOverlapRealData(t *testing.T) {
	data := fixture.RealDataDir(t)
	dir := filepath.Join(data, datasets.CohortCovidQUEx)
	if _, err := os.Stat(filepath.Join(dir, datasets.QUExRemovedFile)); err != nil {
		t.Skipf("no covid-qu-ex in %s: %v", data, err)
	}
	if testing.Short() {
		t.Skip("decodes 3,202 images: not with -short")
	}
	q := &realQUExThumbs
	q.Do(func() { q.names, q.thumbs, q.err = loadThumbs(filepath.Join(dir, datasets.QUExImagesDir)) })
	if q.err != nil {
		t.Fatal(q.err)
	}
	var refNames []string
	var refs [][]float64
	for _, cohort := range []string{datasets.CohortCXRSeg, datasets.CohortCohen} {
		names, thumbs, err := loadThumbs(filepath.Join(data, cohort, "images"))
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			refNames = append(refNames, cohort+"/"+n)
		}
		refs = append(refs, thumbs...)
	}
	// The reference's own decoding of the cxr-seg/cohen JPEGs is not known
	// exactly: within 0.001 of the threshold, a difference is reported, not
	// failed (one image: covid_2543.png, 0.9506 with
	// cxr-seg/nejmc2001573_f1a.jpeg, which the reference kept).
	const margin = 0.001
	var borderline []string
	for i, th := range q.thumbs {
		k, s := MostSimilar(th, refs)
		switch {
		case s >= QUExOverlapNCC+margin:
			t.Errorf("%s re-uses %s (NCC %.4f): the reference kept it", q.names[i], refNames[k], s)
		case s >= QUExOverlapNCC-margin:
			borderline = append(borderline, fmt.Sprintf("%s ~ %s %.4f", q.names[i], refNames[k], s))
		}
	}
	t.Logf("%d images against %d of cxr-seg and cohen; within %g of %g: %s", len(q.thumbs), len(refs), margin, QUExOverlapNCC, strings.Join(borderline, ", "))
}
