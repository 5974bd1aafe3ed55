package main

import (
	"bytes"
	"encoding/json"
	"image"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
)

// agreementJSON is the schema of "opacity agreement --json".
type agreementJSON struct {
	Pairs              int      `json:"pairs"`
	LungIoUMean        *float64 `json:"lung_iou_mean"`
	OpacityIoUMean     *float64 `json:"opacity_iou_mean"`
	OpacityPctSpearman *float64 `json:"opacity_pct_spearman"`
	Images             []struct {
		Image       string  `json:"image"`
		LungIoU     float64 `json:"lung_iou"`
		OpacityIoU  float64 `json:"opacity_iou"`
		OpacityPctA float64 `json:"opacity_pct_a"`
		OpacityPctB float64 `json:"opacity_pct_b"`
	} `json:"images"`
}

// cxrSegMasks builds the lung and opacity masks of one cxr-seg image from
// structure.csv rows and the mask PNGs, independently of the datasets
// package: each crop is placed at (Top, Left); any non-black pixel is the
// class.
func cxrSegMasks(t *testing.T, dir string, col map[string]int, rows [][]string) (w, h int, lung, op []bool) {
	res := strings.Split(rows[0][col["Resolution"]], "x")
	w, _ = strconv.Atoi(res[0])
	h, _ = strconv.Atoi(res[1])
	lung, op = make([]bool, w*h), make([]bool, w*h)
	for _, r := range rows {
		var dst []bool
		switch r[col["Template Name"]] {
		case "Left Lung", "Right Lung":
			dst = lung
		case "Ground Glass Opacities", "Consolidation":
			dst = op
		default:
			continue
		}
		fh, err := os.Open(filepath.Join(dir, r[col["Mask"]]))
		if err != nil {
			t.Fatal(err)
		}
		m, _, err := image.Decode(fh)
		fh.Close()
		if err != nil {
			t.Fatalf("%s: %v", r[col["Mask"]], err)
		}
		top, _ := strconv.Atoi(r[col["Top"]])
		left, _ := strconv.Atoi(r[col["Left"]])
		b := m.Bounds()
		for y := b.Min.Y; y < b.Max.Y; y++ {
			for x := b.Min.X; x < b.Max.X; x++ {
				cr, cg, cb, _ := m.At(x, y).RGBA()
				gx, gy := left+x-b.Min.X, top+y-b.Min.Y
				if cr|cg|cb != 0 && gx >= 0 && gy >= 0 && gx < w && gy < h {
					dst[gy*w+gx] = true
				}
			}
		}
	}
	return w, h, lung, op
}

// cohenMasks fills the polygons of a cohen annotation on a w x h grid with
// the scanline fill of cmd_severity_test.go.
func cohenMasks(t *testing.T, path string, w, h int) (lung, op []bool) {
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f lmFile
	if err := json.Unmarshal(raw, &f); err != nil {
		t.Fatal(err)
	}
	if gw, gh := gridOf(t, path, &f); gw != w || gh != h {
		t.Fatalf("%s: image %dx%d, cxr-seg resolution %dx%d", path, gw, gh, w, h)
	}
	lung, op = make([]bool, w*h), make([]bool, w*h)
	for _, s := range f.Shapes {
		if s.Label == "right_lung" || s.Label == "left_lung" {
			fill(lung, w, h, s.Points)
		} else {
			fill(op, w, h, s.Points)
		}
	}
	return lung, op
}

func iouOf(a, ra, b, rb []bool) float64 {
	var in, un int
	for i := range a {
		x := a[i] && (ra == nil || ra[i])
		y := b[i] && (rb == nil || rb[i])
		if x && y {
			in++
		}
		if x || y {
			un++
		}
	}
	if un == 0 {
		return 1
	}
	return float64(in) / float64(un)
}

func pctOf(lung, op []bool) float64 {
	var nl, no int
	for i := range lung {
		if lung[i] {
			nl++
			if op[i] {
				no++
			}
		}
	}
	return 100 * float64(no) / float64(nl)
}

func TestAgreementRealDataIndependent(t *testing.T) {
	data := sharedData(t)
	if _, err := os.Stat(filepath.Join(data, "cxr-seg", "structure.csv")); err != nil {
		t.Skipf("no cxr-seg in %s", data)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"agreement", "--data", data, "--json"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	var got agreementJSON
	dec := json.NewDecoder(bytes.NewReader(stdout.Bytes()))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("not the schema's JSON: %v\n%s", err, stdout.String())
	}

	col, rows := readTable(t, filepath.Join(data, "cxr-seg", "structure.csv"))
	byStem := map[string][][]string{}
	for _, r := range rows {
		name := r[col["Filename"]]
		if r[col["Mask"]] == "" {
			continue
		}
		stem := strings.TrimSuffix(name, filepath.Ext(name))
		byStem[stem] = append(byStem[stem], r)
	}
	ann, _ := filepath.Glob(filepath.Join(data, "cohen", "annotations", "*.json"))
	var stems []string
	for _, a := range ann {
		if s := strings.TrimSuffix(filepath.Base(a), ".json"); byStem[s] != nil {
			stems = append(stems, s)
		}
	}
	sort.Strings(stems)
	if got.Pairs != len(stems) || len(got.Images) != len(stems) {
		t.Fatalf("pairs %d (%d images), direct %d common stems", got.Pairs, len(got.Images), len(stems))
	}
	var sumL, sumO float64
	var pa, pb []float64
	for i, s := range stems {
		w, h, lb, ob := cxrSegMasks(t, filepath.Join(data, "cxr-seg"), col, byStem[s])
		la, oa := cohenMasks(t, filepath.Join(data, "cohen", "annotations", s+".json"), w, h)
		want := []float64{iouOf(la, nil, lb, nil), iouOf(oa, la, ob, lb), pctOf(la, oa), pctOf(lb, ob)}
		g := got.Images[i]
		have := []float64{g.LungIoU, g.OpacityIoU, g.OpacityPctA, g.OpacityPctB}
		if g.Image != s {
			t.Fatalf("image %d is %s, want %s", i, g.Image, s)
		}
		for k, name := range []string{"lung IoU", "opacity IoU", "opacity % a", "opacity % b"} {
			if math.Abs(have[k]-want[k]) > 1e-9 {
				t.Errorf("%s: %s %v, direct %v", s, name, have[k], want[k])
			}
		}
		sumL += want[0]
		sumO += want[1]
		pa, pb = append(pa, want[2]), append(pb, want[3])
	}
	n := float64(len(stems))
	if math.Abs(*got.LungIoUMean-sumL/n) > 1e-9 || math.Abs(*got.OpacityIoUMean-sumO/n) > 1e-9 {
		t.Errorf("means %v %v, direct %v %v", *got.LungIoUMean, *got.OpacityIoUMean, sumL/n, sumO/n)
	}
	if rho := spearmanDirect(pa, pb); math.Abs(*got.OpacityPctSpearman-rho) > 1e-9 {
		t.Errorf("spearman %v, direct %v", *got.OpacityPctSpearman, rho)
	}
	t.Logf("%d pairs: lung IoU %.3f, opacity IoU %.3f, spearman %.3f", got.Pairs, sumL/n, sumO/n, *got.OpacityPctSpearman)
}

func TestAgreementFlags(t *testing.T) {
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	for _, bad := range [][]string{
		{"agreement"},
		{"agreement", "--data", filepath.Join(dir, "missing")},
		{"agreement", "--data", dir}, // no image in common
		{"agreement", "--data", dir, "x"},
	} {
		stdout.Reset()
		stderr.Reset()
		if code := run(bad, &stdout, &stderr); code == 0 {
			t.Errorf("%v: exit 0", bad)
		}
	}
}
