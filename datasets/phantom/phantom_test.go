package phantom

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets"
)

// readTree returns every file under dir by its relative path.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		files[rel] = data
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func writeSmallPhantom(t *testing.T, dir string, seed int64) *Summary {
	t.Helper()
	sum, err := Write(dir, Options{Patients: 6, Seed: seed, Size: 64, CohenImages: 4})
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

func TestWriteSameSeedSameBytes(t *testing.T) {
	a, b, c := t.TempDir(), t.TempDir(), t.TempDir()
	writeSmallPhantom(t, a, 7)
	writeSmallPhantom(t, b, 7)
	writeSmallPhantom(t, c, 8)
	fa, fb, fc := readTree(t, a), readTree(t, b), readTree(t, c)
	if len(fa) != len(fb) {
		t.Fatalf("%d files, then %d", len(fa), len(fb))
	}
	for name, data := range fa {
		if !bytes.Equal(data, fb[name]) {
			t.Errorf("%s differs between two runs with the same seed", name)
		}
	}
	same := 0
	for name, data := range fa {
		if bytes.Equal(data, fc[name]) {
			same++
		}
	}
	if same > 0 {
		t.Errorf("%d files are identical for seeds 7 and 8", same)
	}
}

func TestWriteLayout(t *testing.T) {
	dir := t.TempDir()
	sum := writeSmallPhantom(t, dir, 3)
	files := readTree(t, dir)
	for _, want := range []string{
		"SYNTHETIC", "covid-ar/patient_info.csv", "covid-ar/radiologist_notes.csv",
		"cohen/covid-severity-scores.csv", "cohen/metadata.csv",
	} {
		if _, ok := files[want]; !ok {
			t.Errorf("missing %s", want)
		}
	}
	if !strings.Contains(string(files["SYNTHETIC"]), "synthetic phantom seed=3") {
		t.Errorf("marker: %q", files["SYNTHETIC"])
	}
	for _, im := range sum.Images {
		if !strings.HasPrefix(im.File, "COVID-19-AR-9") || len(strings.SplitN(im.File, "_", 2)[0]) != len("COVID-19-AR-12345678") {
			t.Errorf("file name %s: want COVID-19-AR-9xxxxxxx_...", im.File)
		}
		if _, ok := files["covid-ar/annotations/"+im.File]; !ok {
			t.Errorf("summary names %s, not written", im.File)
		}
	}
	// Every CSV says it is synthetic.
	for _, f := range []string{"covid-ar/patient_info.csv", "covid-ar/radiologist_notes.csv", "cohen/covid-severity-scores.csv", "cohen/metadata.csv"} {
		if !strings.Contains(string(files[f]), "synthetic phantom seed=3") {
			t.Errorf("%s does not say it is synthetic", f)
		}
	}
	if !bytes.Contains(files["covid-ar/patient_info.csv"], []byte("\r\n")) {
		t.Error("patient_info.csv: want CRLF line ends as in the source")
	}
	// 1 to 4 X-rays per patient.
	for _, p := range sum.Patients {
		if p.Images < 1 || p.Images > 4 {
			t.Errorf("%s has %d images", p.ID, p.Images)
		}
	}
	// No temporary files left.
	for name := range files {
		if strings.Contains(name, ".tmp-") {
			t.Errorf("temporary file left: %s", name)
		}
	}
}

// auc is the Mann-Whitney AUC: the fraction of (positive, negative) pairs
// in which the positive scores higher, ties counting one half.
func auc(scores []float64, pos []bool) float64 {
	var num, pairs float64
	for i := range scores {
		for j := range scores {
			if pos[i] && !pos[j] {
				pairs++
				switch {
				case scores[i] > scores[j]:
					num++
				case scores[i] == scores[j]:
					num += 0.5
				}
			}
		}
	}
	return num / pairs
}

func TestAUCHelper(t *testing.T) {
	// Positives 3, 1; negatives 2, 1: pairs (3,2) (3,1) win, (1,2) loses,
	// (1,1) ties: (2 + 0.5) / 4.
	if got := auc([]float64{3, 1, 2, 1}, []bool{true, true, false, false}); got != 2.5/4 {
		t.Errorf("auc = %v, want 0.625", got)
	}
}

// TestPhantomCohortStatistics checks the cohort-level design on a larger
// cohort of small images: about a third of the images clear, ICU admissions
// informative but not perfectly predicted by the maximum opacity.
func TestPhantomCohortStatistics(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	dir := t.TempDir()
	sum, err := Write(dir, Options{Patients: 150, Seed: 21, Size: 48, CohenImages: -1})
	if err != nil {
		t.Fatal(err)
	}
	clear := float64(sum.ClearImages()) / float64(len(sum.Images))
	if clear < 0.2 || clear > 0.45 {
		t.Errorf("clear fraction %.2f, want about a third", clear)
	}
	var scores []float64
	var icu []bool
	for _, p := range sum.Patients {
		scores = append(scores, p.MaxOpacityPercent)
		icu = append(icu, p.ICU)
	}
	n, _ := sum.Outcomes()
	a := auc(scores, icu)
	t.Logf("%d images, %.0f%% clear, ICU %d of %d patients, AUC %.3f", len(sum.Images), 100*clear, n, len(sum.Patients), a)
	if a < 0.65 || a > 0.95 {
		t.Errorf("AUC of max opacity %% for ICU = %.3f: want informative but imperfect", a)
	}
	if f := float64(n) / float64(len(sum.Patients)); f < 0.12 || f > 0.5 {
		t.Errorf("ICU fraction %.2f", f)
	}
	// The painted burden reaches every range.
	sort.Float64s(scores)
	if scores[len(scores)-1] < 40 {
		t.Errorf("largest max opacity %.1f%%: want severe patients too", scores[len(scores)-1])
	}
}

func TestWriteRefusesOtherFolders(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "precious.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Write(dir, Options{Patients: 1, Size: 32}); err == nil || !strings.Contains(err.Error(), "not a phantom") {
		t.Errorf("want a refusal, got %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "precious.txt")); err != nil {
		t.Error("the existing file was touched")
	}
	// A previous phantom is replaced: fewer patients leave no stale files.
	ph := t.TempDir()
	if _, err := Write(ph, Options{Patients: 5, Size: 32, CohenImages: 3}); err != nil {
		t.Fatal(err)
	}
	sum, err := Write(ph, Options{Patients: 2, Size: 32, CohenImages: -1})
	if err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(ph, datasets.CohortCovidAR, "annotations"))
	if len(entries) != len(sum.Images) {
		t.Errorf("%d annotation files, %d images written", len(entries), len(sum.Images))
	}
	if _, err := os.Stat(filepath.Join(ph, datasets.CohortCohen)); err == nil {
		t.Error("stale cohen folder left")
	}
}

func TestWriteOptions(t *testing.T) {
	for _, opt := range []Options{{Patients: 0}, {Patients: 1, Size: 8}, {Patients: 1, Size: 10000}} {
		if _, err := Write(t.TempDir(), opt); err == nil {
			t.Errorf("%+v: want an error", opt)
		}
	}
}

func BenchmarkWrite40(b *testing.B) {
	for b.Loop() {
		if _, err := Write(b.TempDir(), Options{Patients: 40, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
}
