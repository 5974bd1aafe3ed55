package fetch

import (
	"bytes"
	"context"
	"crypto/sha1"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io/fs"
	"math/rand"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/covidxray/opacity/datasets"
	"github.com/covidxray/opacity/datasets/internal/fixture"
)

func pngBytes(t testing.TB, w, h int) []byte {
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = uint8(i * 7)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func jpegBytes(t testing.TB, w, h int) []byte {
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, w, h)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func labelmeBytes(t testing.TB, embedded []byte) []byte {
	l := datasets.Labelme{Version: "4.5.6", Flags: map[string]any{}, ImagePath: "x.jpg", Shapes: []datasets.Shape{
		{Label: "right_lung", Points: [][2]float64{{1, 1}, {5, 1}, {5, 6}}, ShapeType: "polygon"},
	}}
	if embedded != nil {
		s := base64.StdEncoding.EncodeToString(embedded)
		l.ImageData = &s
	}
	data, err := json.Marshal(l)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// gitSHA is the git blob SHA-1 of data, computed here independently of
// GitBlobSHA1.
func gitSHA(data []byte) string {
	h := sha1.Sum(append([]byte(fmt.Sprintf("blob %d\x00", len(data))), data...))
	return hex.EncodeToString(h[:])
}

// fakeGitHub serves tree listings and raw files of several repositories.
type fakeGitHub struct {
	mu    sync.Mutex
	repos map[string]map[string][]byte // "owner/repo" -> path -> content
	// refs gives the ref (branch or commit) a repository answers to;
	// "master" when absent. Other refs get 404.
	refs map[string]string
	// listed overrides the size in the listing (to fake a truncated file);
	// serve overrides the content served (not the listing's size and sha);
	// fail makes a raw file answer 500; noListing makes a listing 404.
	listed    map[string]int64
	serve     map[string][]byte
	fail      map[string]bool
	noListing map[string]bool
	gets      map[string]int // raw GETs per "owner/repo/path"
}

func (g *fakeGitHub) ref(repo string) string {
	if r, ok := g.refs[repo]; ok {
		return r
	}
	return "master"
}

func (g *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := r.URL.Path
	if strings.HasPrefix(p, "/api/repos/") {
		// /api/repos/{owner}/{repo}/git/trees/{ref}
		parts := strings.Split(strings.TrimPrefix(p, "/api/repos/"), "/")
		if len(parts) != 5 || parts[2] != "git" || parts[3] != "trees" || r.URL.Query().Get("recursive") != "1" {
			http.Error(w, "bad listing request "+p, http.StatusBadRequest)
			return
		}
		repo := parts[0] + "/" + parts[1]
		if parts[4] != g.ref(repo) {
			http.NotFound(w, r)
			return
		}
		files, ok := g.repos[repo]
		if !ok || g.noListing[repo] {
			http.NotFound(w, r)
			return
		}
		var tree []map[string]any
		dirs := map[string]bool{}
		for path, data := range files {
			size := int64(len(data))
			if s, ok := g.listed[repo+"/"+path]; ok {
				size = s
			}
			tree = append(tree, map[string]any{"path": path, "type": "blob", "size": size, "sha": gitSHA(data), "mode": "100644"})
			if i := strings.LastIndex(path, "/"); i > 0 {
				dirs[path[:i]] = true
			}
		}
		for d := range dirs {
			tree = append(tree, map[string]any{"path": d, "type": "tree", "sha": gitSHA([]byte(d))})
		}
		sort.Slice(tree, func(i, j int) bool { return tree[i]["path"].(string) < tree[j]["path"].(string) })
		json.NewEncoder(w).Encode(map[string]any{"sha": "abc", "tree": tree, "truncated": false})
		return
	}
	if strings.HasPrefix(p, "/raw/") {
		// /raw/{owner}/{repo}/{ref}/{path}
		parts := strings.SplitN(strings.TrimPrefix(p, "/raw/"), "/", 4)
		if len(parts) != 4 || parts[2] != g.ref(parts[0]+"/"+parts[1]) {
			http.NotFound(w, r)
			return
		}
		key := parts[0] + "/" + parts[1] + "/" + parts[3]
		g.gets[key]++
		if g.fail[key] {
			http.Error(w, "boom", http.StatusInternalServerError)
			return
		}
		data, ok := g.repos[parts[0]+"/"+parts[1]][parts[3]]
		if !ok {
			http.NotFound(w, r)
			return
		}
		if d, ok := g.serve[key]; ok {
			data = d
		}
		w.Write(data)
		return
	}
	http.NotFound(w, r)
}

func newFakeGitHub(t *testing.T) *fakeGitHub {
	img := pngBytes(t, 8, 6)
	csvAR := []byte("PATIENT_ID,AGE,ICU Admit,# ICU admits,MORTALITY\r\nCOVID-19-AR-1,50,0,0,0\r\n")
	notes := []byte("patient_id,Diag to img study (days),Diagnosis to Imaging time (hrs),Image Study Description,Radiologist KEY FINDINGS\r\nCOVID-19-AR-1,0,1,XR CHEST AP ONLY,clear\r\n,,,,\r\n")
	scores := []byte("## comment\n## another\nfilename,geographic_mean,opacity_mean\na.jpeg,1.0,2.0\nc.png,3.0,1.3\ngone.jpg,2.0,2.0\n")
	meta := []byte("patientid,offset,filename\n1,0,a.jpeg\n2,0,b.jpg\n")
	return &fakeGitHub{
		repos: map[string]map[string][]byte{
			"haimingt/opacity_segmentation_covid_chest_X_ray": {
				"README.md": []byte("# x"),
				"covid_rural_annot/covid_rural_patient_info.csv":                csvAR,
				"covid_rural_annot/covid_rural_radiologist_notes.csv":           notes,
				"covid_rural_annot/jpgs/COVID-19-AR-1_01-01-2012-XR.jpg":        jpegBytes(t, 8, 8),
				"covid_rural_annot/jpgs/jsons/COVID-19-AR-1_01-01-2012-XR.json": labelmeBytes(t, img),
				"covid_rural_annot/jpgs/jsons/COVID-19-AR-1_01-03-2012-XR.json": labelmeBytes(t, img),
				"covid_rural_annot/jpgs/jsons/COVID-19-AR-2_01-05-2012-XR.json": labelmeBytes(t, img),
				"covid-chestxray-dataset/selected_images/a.json":                labelmeBytes(t, nil),
				"covid-chestxray-dataset/selected_images/b.json":                labelmeBytes(t, nil),
				"covid-chestxray-dataset/selected_images/missing-img.json":      labelmeBytes(t, nil),
				"covid-chestxray-dataset/model_predictions/a.jpg.png":           img,
			},
			"ieee8023/covid-chestxray-dataset": {
				"metadata.csv":                          meta,
				"annotations/covid-severity-scores.csv": scores,
				"images/a.jpeg":                         jpegBytes(t, 10, 10),
				"images/b.jpg":                          jpegBytes(t, 12, 10),
				"images/c.png":                          pngBytes(t, 9, 9),
				"images/d.jpg":                          jpegBytes(t, 9, 9), // not needed
				"images/sub/a.jpg":                      jpegBytes(t, 9, 9), // nested: not taken
			},
			"GeneralBlockchain/covid-19-chest-xray-segmentations-dataset": {
				"structure.csv":     []byte("Filename,Template Name,Mask\nx.png,Left Lung,masks/m1.png\n"),
				"metadata.csv":      []byte("patientid,filename\n7,x.png\n"),
				"images/x.png":      pngBytes(t, 16, 16),
				"masks/m1.png":      pngBytes(t, 4, 4),
				"masks/corrupt.png": []byte("\x89PNG\r\n\x1a\nthis is not a png body"),
				"tags/t.png":        pngBytes(t, 4, 4), // not in the layout
			},
			fakeBrixia: {
				"data/public-annotations.csv": []byte("\ufefffilename,S-A,S-Global,J-A,J-Global\r\na.jpeg,1,5,2,6\r\nx.png,0,3,0,2\r\n"),
				"README.md":                   []byte("# BrixIA"),
			},
			fakeQUEx: fakeQUExFiles(t),
		},
		refs:      map[string]string{fakeBrixia: "770036d297b3c52a6789f134bd9d8c8953d33ec1", fakeQUEx: "57c6aed06423de95940ddb216e2e7ac4eab82dba"},
		listed:    map[string]int64{},
		serve:     map[string][]byte{},
		fail:      map[string]bool{},
		noListing: map[string]bool{},
		gets:      map[string]int{},
	}
}

const (
	fakeBrixia = "BrixIA/Brixia-score-COVID-19"
	fakeQUEx   = "jas127/PS_Covid19"
	fakeRoot   = "Infection Segmentation Data/"
)

// noisePNG returns a w×h PNG of uniform noise in [0, 200) from seed, and
// the same picture 20 levels brighter (a near duplicate).
func noisePNG(t testing.TB, seed int64, w, h int) (img, brighter []byte) {
	rng := rand.New(rand.NewSource(seed))
	a := image.NewGray(image.Rect(0, 0, w, h))
	b := image.NewGray(a.Rect)
	for i := range a.Pix {
		a.Pix[i] = uint8(rng.Intn(200))
		b.Pix[i] = a.Pix[i] + 20
	}
	var ba, bb bytes.Buffer
	if err := png.Encode(&ba, a); err != nil {
		t.Fatal(err)
	}
	if err := png.Encode(&bb, b); err != nil {
		t.Fatal(err)
	}
	return ba.Bytes(), bb.Bytes()
}

// fakeQUExFiles is a small COVID-QU-Ex "Infection Segmentation Data":
//
//   - Train/COVID-19: covid_1 and covid_2 (covid_1 brighter: near
//     duplicates), covid_3 (the very image of cxr-seg/images/x.png: not
//     kept), covid_4 (no infection mask: missing), dup (also in Val/Normal:
//     not taken), a text file and a nested image (ignored);
//   - Train/Non-COVID: 6 images whose byte order is not their numeric
//     order: "Non_COVID (5)", "non_COVID (1)", "non_COVID (10)",
//     "non_COVID (2)", "non_COVID (3)", "non_COVID (4)": every 4th, from
//     the first, is "Non_COVID (5)" and "non_COVID (3)";
//   - Train/Normal: (1), (12), (2), (3), (4): "Normal (1)" and "Normal (4)";
//   - Val: covid_10, "non_COVID (7)", "Normal (9)" and dup: all taken but
//     dup;
//   - Test/COVID-19/images/covid_99 (no masks): not taken.
func fakeQUExFiles(t testing.TB) map[string][]byte {
	files := map[string][]byte{"README.md": []byte("# PS")}
	mask := pngBytes(t, 4, 4)
	seed := int64(100)
	add := func(folder, name string, img []byte, masks ...string) {
		if img == nil {
			seed++
			img, _ = noisePNG(t, seed, 64, 64)
		}
		files[fakeRoot+folder+"/images/"+name] = img
		for _, m := range masks {
			files[fakeRoot+folder+"/"+m+"/"+name] = mask
		}
	}
	both := []string{"lung masks", "infection masks"}
	c1, c2 := noisePNG(t, 1, 64, 64)
	add("Train/COVID-19", "covid_1.png", c1, both...)
	add("Train/COVID-19", "covid_2.png", c2, both...)
	add("Train/COVID-19", "covid_3.png", pngBytes(t, 16, 16), both...)
	add("Train/COVID-19", "covid_4.png", nil, "lung masks")
	add("Train/COVID-19", "dup.png", nil, both...)
	files[fakeRoot+"Train/COVID-19/images/readme.txt"] = []byte("not an image")
	add("Train/COVID-19", "old/covid_5.png", nil, both...)
	for _, n := range []string{"Non_COVID (5)", "non_COVID (1)", "non_COVID (10)", "non_COVID (2)", "non_COVID (3)", "non_COVID (4)"} {
		add("Train/Non-COVID", n+".png", nil, both...)
	}
	for _, n := range []string{"Normal (1)", "Normal (12)", "Normal (2)", "Normal (3)", "Normal (4)"} {
		add("Train/Normal", n+".png", nil, both...)
	}
	add("Val/COVID-19", "covid_10.png", nil, both...)
	add("Val/Non-COVID", "non_COVID (7).png", nil, both...)
	add("Val/Normal", "Normal (9).png", nil, both...)
	add("Val/Normal", "dup.png", nil, both...)
	add("Test/COVID-19", "covid_99.png", nil)
	return files
}

// quexKept are the images of fakeQUExFiles that the layout keeps, with
// their class and split, sorted by name.
var quexKept = [][3]string{
	{"Non_COVID (5).png", "Non-COVID", "Train"},
	{"Normal (1).png", "Normal", "Train"},
	{"Normal (4).png", "Normal", "Train"},
	{"Normal (9).png", "Normal", "Val"},
	{"covid_1.png", "COVID-19", "Train"},
	{"covid_10.png", "COVID-19", "Val"},
	{"covid_2.png", "COVID-19", "Train"},
	{"non_COVID (3).png", "Non-COVID", "Train"},
	{"non_COVID (7).png", "Non-COVID", "Val"},
}

// quexFiles are the files of the covid-qu-ex folder once complete.
func quexFiles(withTables bool) []string {
	var out []string
	for _, k := range quexKept {
		out = append(out, "covid-qu-ex/images/"+k[0], "covid-qu-ex/masks/infection/"+k[0], "covid-qu-ex/masks/lung/"+k[0])
	}
	if withTables {
		out = append(out, "covid-qu-ex/index.csv", "covid-qu-ex/near-duplicates.csv", "covid-qu-ex/removed-overlap.csv")
	}
	return out
}

// treeFiles lists the files under dir, relative and slash-separated.
func treeFiles(t *testing.T, dir string) []string {
	var out []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(out)
	return out
}

func TestFetch(t *testing.T) {
	gh := newFakeGitHub(t)
	srv := httptest.NewServer(gh)
	defer srv.Close()
	const ar = "haimingt/opacity_segmentation_covid_chest_X_ray/"
	truncated := "covid_rural_annot/jpgs/jsons/COVID-19-AR-1_01-03-2012-XR.json"
	full := gh.repos[ar[:len(ar)-1]][truncated]
	// The server sends 40 bytes fewer than the listing says.
	gh.listed[ar+truncated] = int64(len(full))
	gh.repos[ar[:len(ar)-1]][truncated] = full[:len(full)-40]
	gh.fail["ieee8023/covid-chestxray-dataset/images/b.jpg"] = true

	dir := t.TempDir()
	var progress bytes.Buffer
	opt := Options{To: dir, BaseAPI: srv.URL + "/api", BaseRaw: srv.URL + "/raw", Client: srv.Client(), Progress: &progress, Workers: 3}
	rep, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	var failed []string
	for _, f := range rep.Failed {
		failed = append(failed, f.File)
	}
	wantFailed := []string{
		"cohen/images/b.jpg",
		"covid-ar/annotations/COVID-19-AR-1_01-03-2012-XR.json",
		"cxr-seg/masks/corrupt.png",
	}
	if fmt.Sprint(failed) != fmt.Sprint(wantFailed) {
		t.Errorf("failed %v, want %v", failed, wantFailed)
	}
	for _, f := range rep.Failed {
		if f.Error == "" {
			t.Errorf("%s: no reason given", f.File)
		}
	}
	if !strings.Contains(rep.Failed[0].Error, "500") || !strings.Contains(rep.Failed[1].Error, "size") {
		t.Errorf("reasons: %v", rep.Failed)
	}
	if len(rep.Missing) != 3 || !strings.Contains(rep.Missing[0], "gone.jpg") || !strings.Contains(rep.Missing[1], "missing-img") ||
		rep.Missing[2] != "covid-qu-ex/masks/infection/covid_4.png (jas127/PS_Covid19@57c6aed06423de95940ddb216e2e7ac4eab82dba has no Infection Segmentation Data/Train/COVID-19/infection masks/covid_4.png)" {
		t.Errorf("missing %q: want gone.jpg (scored), missing-img (annotated), covid_4.png's infection mask", rep.Missing)
	}
	wantFiles := []string{
		"brixia/public-annotations.csv",
		"cohen/annotations/a.json",
		"cohen/annotations/b.json",
		"cohen/annotations/missing-img.json",
		"cohen/covid-severity-scores.csv",
		"cohen/images/a.jpeg",
		"cohen/images/c.png",
		"cohen/metadata.csv",
		"covid-ar/annotations/COVID-19-AR-1_01-01-2012-XR.json",
		"covid-ar/annotations/COVID-19-AR-2_01-05-2012-XR.json",
		"covid-ar/patient_info.csv",
		"covid-ar/radiologist_notes.csv",
		"cxr-seg/images/x.png",
		"cxr-seg/masks/m1.png",
		"cxr-seg/metadata.csv",
		"cxr-seg/structure.csv",
	}
	// covid-qu-ex lands without its tables: cohen/images/b.jpg failed, so
	// the overlap check is incomplete.
	wantFiles = append(wantFiles, quexFiles(false)...)
	sort.Strings(wantFiles)
	if got := treeFiles(t, dir); fmt.Sprint(got) != fmt.Sprint(wantFiles) {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantFiles, "\n"))
	}
	// Downloaded: every file there, and covid_3.png, checked and not kept.
	if rep.Downloaded != len(wantFiles)+1 || rep.Skipped != 0 || rep.Complete() {
		t.Errorf("downloaded %d skipped %d complete %v", rep.Downloaded, rep.Skipped, rep.Complete())
	}
	if w := strings.Join(rep.Warnings, "\n"); !strings.Contains(w, "covid-qu-ex: index.csv, near-duplicates.csv and removed-overlap.csv not written: the overlap check is incomplete (cohen/images/b.jpg failed)") {
		t.Errorf("warnings:\n%s", w)
	}
	got, _ := os.ReadFile(filepath.Join(dir, "cohen/images/a.jpeg"))
	if !bytes.Equal(got, gh.repos["ieee8023/covid-chestxray-dataset"]["images/a.jpeg"]) {
		t.Error("a.jpeg content differs")
	}
	for _, never := range []string{ar + "covid_rural_annot/jpgs/COVID-19-AR-1_01-01-2012-XR.jpg", "ieee8023/covid-chestxray-dataset/images/d.jpg", "ieee8023/covid-chestxray-dataset/images/sub/a.jpg", "GeneralBlockchain/covid-19-chest-xray-segmentations-dataset/tags/t.png"} {
		if gh.gets[never] > 0 {
			t.Errorf("%s was downloaded; the layout does not need it", never)
		}
	}
	if !strings.Contains(progress.String(), "FAILED") || !strings.Contains(progress.String(), "[1/") {
		t.Errorf("progress:\n%s", progress.String())
	}

	// Second run, the server repaired: only the three failed files come.
	gh.repos[ar[:len(ar)-1]][truncated] = full
	delete(gh.fail, "ieee8023/covid-chestxray-dataset/images/b.jpg")
	gh.repos["GeneralBlockchain/covid-19-chest-xray-segmentations-dataset"]["masks/corrupt.png"] = pngBytes(t, 3, 3)
	before := map[string]int{}
	for k, v := range gh.gets {
		before[k] = v
	}
	rep2, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	// The three, and covid_3.png again (it is checked on every run).
	if rep2.Downloaded != 3+1 || rep2.Skipped != len(wantFiles) || len(rep2.Failed) != 0 {
		t.Errorf("second run: downloaded %d skipped %d failed %v", rep2.Downloaded, rep2.Skipped, rep2.Failed)
	}
	for k, v := range gh.gets {
		if v > before[k] && !strings.HasSuffix(k, "b.jpg") && !strings.HasSuffix(k, truncated) && !strings.HasSuffix(k, "corrupt.png") && !strings.HasSuffix(k, "/covid_3.png") {
			t.Errorf("%s downloaded again though complete", k)
		}
	}
	// covid-qu-ex's missing mask (covid_4.png) stays missing.
	if len(rep2.Missing) != 3 || rep2.Complete() {
		t.Errorf("second run: missing %v", rep2.Missing)
	}
	// Now the overlap check is complete: the tables are there.
	files2 := append([]string{"cohen/images/b.jpg", "covid-ar/annotations/COVID-19-AR-1_01-03-2012-XR.json", "cxr-seg/masks/corrupt.png",
		"covid-qu-ex/index.csv", "covid-qu-ex/near-duplicates.csv", "covid-qu-ex/removed-overlap.csv"}, wantFiles...)
	sort.Strings(files2)
	if got := treeFiles(t, dir); fmt.Sprint(got) != fmt.Sprint(files2) {
		t.Errorf("second run: files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(files2, "\n"))
	}
	if len(rep2.Derived) != 3 {
		t.Errorf("second run: derived %q", rep2.Derived)
	}

	// A complete file damaged on disk (same size) is fetched again.
	p := filepath.Join(dir, "cxr-seg/images/x.png")
	data, _ := os.ReadFile(p)
	bad := append([]byte(nil), data...)
	for i := 20; i < len(bad); i++ {
		bad[i] = 0
	}
	os.WriteFile(p, bad, 0o644)
	// And a stale temporary file of an interrupted run goes away.
	os.WriteFile(filepath.Join(dir, "cxr-seg/images/.x.png.tmp-123"), []byte("partial"), 0o644)
	rep3, err := Run(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if rep3.Downloaded != 1+1 {
		t.Errorf("third run downloaded %d, want 2 (the damaged file, covid_3.png)", rep3.Downloaded)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, data) {
		t.Error("damaged file not repaired")
	}
	for _, f := range treeFiles(t, dir) {
		if strings.Contains(f, ".tmp-") {
			t.Errorf("temporary file left: %s", f)
		}
	}
}

func TestFetchListingFailure(t *testing.T) {
	gh := newFakeGitHub(t)
	gh.noListing["ieee8023/covid-chestxray-dataset"] = true
	srv := httptest.NewServer(gh)
	defer srv.Close()
	dir := t.TempDir()
	rep, err := Run(context.Background(), Options{To: dir, BaseAPI: srv.URL + "/api", BaseRaw: srv.URL + "/raw", Client: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, f := range rep.Failed {
		if strings.Contains(f.File, "ieee8023/covid-chestxray-dataset (listing)") && strings.Contains(f.Error, "404") {
			found = true
		}
	}
	if !found {
		t.Errorf("failed %v: want the ieee8023 listing", rep.Failed)
	}
	// The other repositories still land.
	if _, err := os.Stat(filepath.Join(dir, "cxr-seg/structure.csv")); err != nil {
		t.Error(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "covid-ar/patient_info.csv")); err != nil {
		t.Error(err)
	}
}

func TestFetchRetries(t *testing.T) {
	gh := newFakeGitHub(t)
	srv := httptest.NewServer(gh)
	defer srv.Close()
	key := "GeneralBlockchain/covid-19-chest-xray-segmentations-dataset/structure.csv"
	gh.fail[key] = true
	// Fail the first attempt only.
	var once sync.Once
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gh.ServeHTTP(w, r)
		if strings.HasSuffix(r.URL.Path, "structure.csv") {
			once.Do(func() {
				gh.mu.Lock()
				delete(gh.fail, key)
				gh.mu.Unlock()
			})
		}
	})
	srv.Config.Handler = h
	rep, err := Run(context.Background(), Options{To: t.TempDir(), BaseAPI: srv.URL + "/api", BaseRaw: srv.URL + "/raw", Client: srv.Client(), Retries: 1})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range rep.Failed {
		if strings.Contains(f.File, "structure.csv") {
			t.Errorf("structure.csv failed despite a retry: %v", f.Error)
		}
	}
	if gh.gets[key] != 2 {
		t.Errorf("%d requests for structure.csv, want 2", gh.gets[key])
	}
}

func TestFetchCancelled(t *testing.T) {
	gh := newFakeGitHub(t)
	srv := httptest.NewServer(gh)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Run(ctx, Options{To: t.TempDir(), BaseAPI: srv.URL + "/api", BaseRaw: srv.URL + "/raw", Client: srv.Client()})
	if err == nil {
		t.Error("want an error for a cancelled context")
	}
}

func TestParseTreeListing(t *testing.T) {
	sha := gitSHA([]byte("abc"))
	tests := []struct {
		in      string
		wantErr string
		n       int
	}{
		{`{"tree":[{"path":"a/b.json","type":"blob","size":3,"sha":"` + sha + `"},{"path":"a","type":"tree"}],"truncated":false}`, "", 2},
		{`{"tree":[]}`, "", 0},
		{`{"sha":"x"}`, "no \"tree\"", 0},
		{`{"tree":[{"path":"../etc/passwd","type":"blob","size":1,"sha":"` + sha + `"}]}`, "unsafe path", 0},
		{`{"tree":[{"path":"/abs","type":"blob","size":1,"sha":"` + sha + `"}]}`, "unsafe path", 0},
		{`{"tree":[{"path":"a//b","type":"blob","size":1,"sha":"` + sha + `"}]}`, "unsafe path", 0},
		{`{"tree":[{"path":"a/b","type":"blob","size":-1,"sha":"` + sha + `"}]}`, "negative size", 0},
		{`{"tree":[{"path":"a/b","type":"blob","size":1}]}`, "sha \"\" is not", 0},
		{`{"tree":[{"path":"a/b","type":"blob","size":1,"sha":"` + strings.ToUpper(sha) + `"}]}`, "is not 40 lower-case hex", 0},
		{`{"tree":[{"path":"a/b","type":"blob","size":1,"sha":"` + sha[:39] + `"}]}`, "is not 40 lower-case hex", 0},
		{`{"tree":[`, "invalid JSON", 0},
	}
	for _, tc := range tests {
		l, err := parseTreeListing([]byte(tc.in))
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: error %v, want %q", tc.in, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", tc.in, err)
		} else if len(l.Tree) != tc.n {
			t.Errorf("%s: %d entries, want %d", tc.in, len(l.Tree), tc.n)
		}
	}
}

func FuzzParseTreeListing(f *testing.F) {
	f.Add([]byte(`{"tree":[{"path":"a/b.json","type":"blob","size":3,"sha":"f2ba8f84ab5c1bce84a7b441cb1959cfc7093b7f"}],"truncated":true}`))
	f.Add([]byte(`{"tree":[{"path":"..","type":"blob","size":3}]}`))
	f.Add([]byte(`{"tree":null}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, err := parseTreeListing(data)
		if err != nil {
			return
		}
		for _, e := range l.Tree {
			if e.Type != "blob" {
				continue
			}
			if e.Size < 0 || e.Path == "" || strings.HasPrefix(e.Path, "/") || strings.Contains("/"+e.Path+"/", "/../") {
				t.Fatalf("accepted unsafe entry %+v", e)
			}
			if len(e.Sha) != 40 || strings.Trim(e.Sha, "0123456789abcdef") != "" {
				t.Fatalf("accepted a blob without a SHA-1: %+v", e)
			}
		}
	})
}

func TestCheckFile(t *testing.T) {
	img := pngBytes(t, 5, 5)
	tests := []struct {
		name  string
		data  []byte
		check fileCheck
		ok    bool
	}{
		{"embedded.json", labelmeBytes(t, img), checkLabelme, true},
		{"plain.json", labelmeBytes(t, nil), checkLabelme, true},
		{"broken.json", []byte(`{"shapes": [`), checkLabelme, false},
		{"badimage.json", labelmeBytes(t, img[:len(img)/2]), checkLabelme, false},
		{"a.png", img, checkImage, true},
		{"a.jpg", jpegBytes(t, 8, 8), checkImage, true},
		{"half.png", img[:len(img)/2], checkImage, false},
		{"t.csv", []byte("## c\na,b\n1,2\n"), checkCSV, true},
		{"ragged.csv", []byte("a,b\n1,2,3\n"), checkCSV, false},
		{"header-only.csv", []byte("a,b\n"), checkCSV, false},
		{"quote.csv", []byte("a,b\n\"1,2\n"), checkCSV, false},
	}
	for _, tc := range tests {
		err := checkFile(tc.name, tc.data, tc.check)
		if (err == nil) != tc.ok {
			t.Errorf("%s: error %v, want ok %v", tc.name, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), tc.name) {
			t.Errorf("%s: error %q does not name the file", tc.name, err)
		}
	}
}

// TestCheckFileRealData runs the download checks over the real files in
// ../shared/data: the checks must accept every real CSV and annotation.
func TestCheckFileRealData(t *testing.T) {
	root := fixture.RealDataDir(t)
	for _, f := range []string{"covid-ar/patient_info.csv", "covid-ar/radiologist_notes.csv", "cohen/covid-severity-scores.csv", "cohen/metadata.csv", "cxr-seg/structure.csv", "cxr-seg/metadata.csv", "brixia/public-annotations.csv"} {
		data, err := os.ReadFile(filepath.Join(root, f))
		if err != nil {
			t.Fatal(err)
		}
		if err := checkFile(f, data, checkCSV); err != nil {
			t.Error(err)
		}
	}
	for _, pattern := range []string{"covid-ar/annotations/*.json", "cohen/annotations/*.json"} {
		files, _ := filepath.Glob(filepath.Join(root, pattern))
		if len(files) == 0 {
			t.Errorf("no %s", pattern)
		}
		for _, p := range files {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := checkFile(p, data, checkLabelme); err != nil {
				t.Error(err)
			}
		}
	}
	imgs, _ := filepath.Glob(filepath.Join(root, "cohen/images/*"))
	for _, p := range imgs[:min(3, len(imgs))] {
		data, _ := os.ReadFile(p)
		if err := checkFile(p, data, checkImage); err != nil {
			t.Error(err)
		}
	}
}

func TestGitBlobSHA1(t *testing.T) {
	// As `git hash-object` gives them.
	for in, want := range map[string]string{
		"":        "e69de29bb2d1d6434b8b29ae775ad8c2e48c5391",
		"hello\n": "ce013625030ba8dba906f756967f9e9ca394464a",
	} {
		if got := GitBlobSHA1([]byte(in)); got != want {
			t.Errorf("%q: %s, want %s", in, got, want)
		}
	}
}

// fetchFake runs Run against gh into a new folder.
func fetchFake(t *testing.T, gh *fakeGitHub, dir string) *Report {
	t.Helper()
	srv := httptest.NewServer(gh)
	defer srv.Close()
	rep, err := Run(context.Background(), Options{To: dir, BaseAPI: srv.URL + "/api", BaseRaw: srv.URL + "/raw", Client: srv.Client(), Workers: 3})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// TestFetchQUEx checks the covid-qu-ex folder made from fakeQUExFiles:
// selection, renaming, tables, and the pinned commits.
func TestFetchQUEx(t *testing.T) {
	gh := newFakeGitHub(t)
	// No failure elsewhere, so that the overlap check is complete.
	gh.repos["GeneralBlockchain/covid-19-chest-xray-segmentations-dataset"]["masks/corrupt.png"] = pngBytes(t, 3, 3)
	dir := t.TempDir()
	rep := fetchFake(t, gh, dir)
	if len(rep.Failed) != 0 {
		t.Fatalf("failed: %v", rep.Failed)
	}
	var got []string
	for _, f := range treeFiles(t, dir) {
		if strings.HasPrefix(f, "covid-qu-ex/") {
			got = append(got, f)
		}
	}
	want := quexFiles(true)
	sort.Strings(want)
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("covid-qu-ex files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	// Renamed into the layout, content as in the source.
	src := gh.repos[fakeQUEx]
	for _, c := range []struct{ dest, from string }{
		{"covid-qu-ex/images/non_COVID (3).png", "Train/Non-COVID/images/non_COVID (3).png"},
		{"covid-qu-ex/masks/lung/covid_10.png", "Val/COVID-19/lung masks/covid_10.png"},
		{"covid-qu-ex/masks/infection/Normal (9).png", "Val/Normal/infection masks/Normal (9).png"},
	} {
		data, err := os.ReadFile(filepath.Join(dir, c.dest))
		if err != nil || !bytes.Equal(data, src[fakeRoot+c.from]) {
			t.Errorf("%s: not %s (%v)", c.dest, c.from, err)
		}
	}
	// Never fetched: Test, the unselected Train negatives, the nested and
	// text files, dup.png, covid_4.png (no infection mask), covid_3.png's
	// masks (not kept).
	for _, p := range []string{"Test/COVID-19/images/covid_99.png", "Train/Non-COVID/images/non_COVID (1).png", "Train/Normal/images/Normal (12).png",
		"Train/COVID-19/images/old/covid_5.png", "Train/COVID-19/images/readme.txt", "Train/COVID-19/images/dup.png", "Val/Normal/images/dup.png",
		"Train/COVID-19/images/covid_4.png", "Train/COVID-19/lung masks/covid_3.png"} {
		if gh.gets[fakeQUEx+"/"+fakeRoot+p] > 0 {
			t.Errorf("%s was downloaded", p)
		}
	}
	if gh.gets[fakeQUEx+"/"+fakeRoot+"Train/COVID-19/images/covid_3.png"] != 1 {
		t.Error("covid_3.png was not downloaded for its check")
	}

	read := func(name string) string {
		data, err := os.ReadFile(filepath.Join(dir, "covid-qu-ex", name))
		if err != nil {
			t.Fatal(err)
		}
		return string(data)
	}
	wantIndex := "file,class,source_split\n"
	for _, k := range quexKept {
		wantIndex += strings.Join(k[:], ",") + "\n"
	}
	if got := read("index.csv"); got != wantIndex {
		t.Errorf("index.csv:\n%s\nwant:\n%s", got, wantIndex)
	}
	// The cohort reader of this package reads it back.
	entries, err := datasets.ReadQUExIndex(filepath.Join(dir, "covid-qu-ex", datasets.QUExIndexFile))
	if err != nil || len(entries) != len(quexKept) {
		t.Errorf("ReadQUExIndex: %d entries, %v", len(entries), err)
	}
	if got := read("near-duplicates.csv"); got != "file_a,file_b,similarity_32px_ncc\ncovid_1.png,covid_2.png,1.0\n" {
		t.Errorf("near-duplicates.csv:\n%s", got)
	}
	if pairs, err := datasets.ReadNearDuplicates(filepath.Join(dir, "covid-qu-ex", datasets.QUExNearDuplicatesFile)); err != nil || len(pairs) != 1 {
		t.Errorf("ReadNearDuplicates: %v, %v", pairs, err)
	}
	if got := read("removed-overlap.csv"); got != "source_file,same_xray_as,similarity_32px_ncc\nTrain/COVID-19/covid_3.png,cxr-seg/x.png,1.0\n" {
		t.Errorf("removed-overlap.csv:\n%s", got)
	}
	if len(rep.Derived) != 3 || !strings.Contains(rep.Derived[0], "9 images (COVID-19 3, Non-COVID 3, Normal 3)") {
		t.Errorf("derived: %q", rep.Derived)
	}
	if w := strings.Join(rep.Warnings, "\n"); !strings.Contains(w, "dup.png is in Train/COVID-19 and Val/Normal: not taken") {
		t.Errorf("warnings:\n%s", w)
	}
	// Pinned: the report names the commits.
	var repos []string
	for _, r := range rep.Repos {
		repos = append(repos, r.Repo)
	}
	for _, want := range []string{"BrixIA/Brixia-score-COVID-19@770036d297b3c52a6789f134bd9d8c8953d33ec1", "jas127/PS_Covid19@57c6aed06423de95940ddb216e2e7ac4eab82dba"} {
		if !strings.Contains(strings.Join(repos, " "), want) {
			t.Errorf("repos %v: want %s", repos, want)
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, "brixia/public-annotations.csv")); err != nil || !bytes.Equal(data, gh.repos[fakeBrixia]["data/public-annotations.csv"]) {
		t.Errorf("brixia: %v", err)
	}

	// An image of the layout that turns out to re-use a cxr-seg image
	// (cxr-seg changed upstream) goes, with its masks, on the next run.
	gh.repos["GeneralBlockchain/covid-19-chest-xray-segmentations-dataset"]["images/y.png"] = src[fakeRoot+"Val/COVID-19/images/covid_10.png"]
	rep2 := fetchFake(t, gh, dir)
	for _, p := range []string{"images", "masks/lung", "masks/infection"} {
		if _, err := os.Stat(filepath.Join(dir, "covid-qu-ex", p, "covid_10.png")); err == nil {
			t.Errorf("%s/covid_10.png is still there", p)
		}
	}
	if got := read("removed-overlap.csv"); !strings.Contains(got, "Val/COVID-19/covid_10.png,cxr-seg/y.png,1.0\n") {
		t.Errorf("removed-overlap.csv:\n%s", got)
	}
	if strings.Contains(read("index.csv"), "covid_10.png") || rep2.Downloaded != 2 {
		t.Errorf("second run: downloaded %d (want y.png, covid_3.png); index:\n%s", rep2.Downloaded, read("index.csv"))
	}
}

// TestFetchChecksumMismatch: a file whose content is not what the listing's
// SHA-1 says fails, naming the file and both hashes, and is not written;
// an existing good file is not replaced by it.
func TestFetchChecksumMismatch(t *testing.T) {
	gh := newFakeGitHub(t)
	gh.repos["GeneralBlockchain/covid-19-chest-xray-segmentations-dataset"]["masks/corrupt.png"] = pngBytes(t, 3, 3)
	const structure = "GeneralBlockchain/covid-19-chest-xray-segmentations-dataset/structure.csv"
	lungKey := fakeQUEx + "/" + fakeRoot + "Val/COVID-19/lung masks/covid_10.png"
	good := gh.repos["GeneralBlockchain/covid-19-chest-xray-segmentations-dataset"]["structure.csv"]
	// Same size, other content: only the SHA-1 tells.
	bad := bytes.ToUpper(good)
	gh.serve[structure] = bad
	lung := gh.repos[fakeQUEx][fakeRoot+"Val/COVID-19/lung masks/covid_10.png"]
	gh.serve[lungKey] = append(append([]byte(nil), lung[:len(lung)-1]...), lung[len(lung)-1]^1)
	dir := t.TempDir()
	rep := fetchFake(t, gh, dir)
	failed := map[string]string{}
	for _, f := range rep.Failed {
		failed[f.File] = f.Error
	}
	for file, hashes := range map[string][2]string{
		"cxr-seg/structure.csv":               {gitSHA(bad), gitSHA(good)},
		"covid-qu-ex/masks/lung/covid_10.png": {gitSHA(gh.serve[lungKey]), gitSHA(lung)},
	} {
		e, ok := failed[file]
		if !ok || !strings.Contains(e, hashes[0]) || !strings.Contains(e, hashes[1]) || !strings.Contains(e, "SHA-1") {
			t.Errorf("%s: failure %q, want both hashes %v", file, e, hashes)
		}
		if _, err := os.Stat(filepath.Join(dir, file)); err == nil {
			t.Errorf("%s written despite its checksum", file)
		}
	}
	if len(rep.Failed) != 2 {
		t.Errorf("failed %v", rep.Failed)
	}
	// covid-qu-ex is incomplete: no tables.
	if _, err := os.Stat(filepath.Join(dir, "covid-qu-ex", datasets.QUExIndexFile)); err == nil {
		t.Error("index.csv written with a failed mask")
	}
	if w := strings.Join(rep.Warnings, "\n"); !strings.Contains(w, "not written: 1 of its files failed") {
		t.Errorf("warnings:\n%s", w)
	}

	// The skip path: a file on disk with the listed size but another
	// SHA-1 is not taken as complete; the good one replaces it.
	delete(gh.serve, structure)
	delete(gh.serve, lungKey)
	os.WriteFile(filepath.Join(dir, "cxr-seg/structure.csv"), bad, 0o644)
	before := gh.gets[structure]
	rep2 := fetchFake(t, gh, dir)
	if got, _ := os.ReadFile(filepath.Join(dir, "cxr-seg/structure.csv")); !bytes.Equal(got, good) || gh.gets[structure] != before+1 || len(rep2.Failed) != 0 {
		t.Errorf("structure.csv not repaired: %q, failed %v", got, rep2.Failed)
	}
	if _, err := os.Stat(filepath.Join(dir, "covid-qu-ex", datasets.QUExIndexFile)); err != nil {
		t.Error("index.csv not written once complete")
	}
}

func TestSelectQUExNoImages(t *testing.T) {
	gh := newFakeGitHub(t)
	gh.repos[fakeQUEx] = map[string][]byte{"README.md": []byte("x")}
	rep := fetchFake(t, gh, t.TempDir())
	if m := strings.Join(rep.Missing, "\n"); !strings.Contains(m, "covid-qu-ex/ (jas127/PS_Covid19@57c6aed06423de95940ddb216e2e7ac4eab82dba has no images") {
		t.Errorf("missing:\n%s", m)
	}
}
