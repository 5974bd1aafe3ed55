package datasets

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"image"
	"image/jpeg"
	"image/png"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
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
	l := Labelme{Version: "4.5.6", Flags: map[string]any{}, ImagePath: "x.jpg", Shapes: []Shape{
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

// fakeGitHub serves tree listings and raw files of several repositories.
type fakeGitHub struct {
	mu    sync.Mutex
	repos map[string]map[string][]byte // "owner/repo" -> path -> content
	// listed overrides the size in the listing (to fake a truncated file);
	// fail makes a raw file answer 500; noListing makes a listing 404.
	listed    map[string]int64
	fail      map[string]bool
	noListing map[string]bool
	gets      map[string]int // raw GETs per "owner/repo/path"
}

func (g *fakeGitHub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	p := r.URL.Path
	if strings.HasPrefix(p, "/api/repos/") {
		// /api/repos/{owner}/{repo}/git/trees/master
		parts := strings.Split(strings.TrimPrefix(p, "/api/repos/"), "/")
		if len(parts) != 5 || parts[2] != "git" || parts[3] != "trees" || parts[4] != "master" || r.URL.Query().Get("recursive") != "1" {
			http.Error(w, "bad listing request "+p, http.StatusBadRequest)
			return
		}
		repo := parts[0] + "/" + parts[1]
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
			tree = append(tree, map[string]any{"path": path, "type": "blob", "size": size, "mode": "100644"})
			if i := strings.LastIndex(path, "/"); i > 0 {
				dirs[path[:i]] = true
			}
		}
		for d := range dirs {
			tree = append(tree, map[string]any{"path": d, "type": "tree"})
		}
		sort.Slice(tree, func(i, j int) bool { return tree[i]["path"].(string) < tree[j]["path"].(string) })
		json.NewEncoder(w).Encode(map[string]any{"sha": "abc", "tree": tree, "truncated": false})
		return
	}
	if strings.HasPrefix(p, "/raw/") {
		// /raw/{owner}/{repo}/master/{path}
		parts := strings.SplitN(strings.TrimPrefix(p, "/raw/"), "/", 4)
		if len(parts) != 4 || parts[2] != "master" {
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
		},
		listed:    map[string]int64{},
		fail:      map[string]bool{},
		noListing: map[string]bool{},
		gets:      map[string]int{},
	}
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
	opt := FetchOptions{To: dir, BaseAPI: srv.URL + "/api", BaseRaw: srv.URL + "/raw", Client: srv.Client(), Progress: &progress, Workers: 3}
	rep, err := Fetch(context.Background(), opt)
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
	if len(rep.Missing) != 2 || !strings.Contains(rep.Missing[0], "gone.jpg") || !strings.Contains(rep.Missing[1], "missing-img") {
		t.Errorf("missing %q: want gone.jpg (scored) and missing-img (annotated)", rep.Missing)
	}
	wantFiles := []string{
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
	if got := treeFiles(t, dir); fmt.Sprint(got) != fmt.Sprint(wantFiles) {
		t.Errorf("files:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(wantFiles, "\n"))
	}
	if rep.Downloaded != len(wantFiles) || rep.Skipped != 0 || rep.Complete() {
		t.Errorf("downloaded %d skipped %d complete %v", rep.Downloaded, rep.Skipped, rep.Complete())
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
	rep2, err := Fetch(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if rep2.Downloaded != 3 || rep2.Skipped != len(wantFiles) || len(rep2.Failed) != 0 {
		t.Errorf("second run: downloaded %d skipped %d failed %v", rep2.Downloaded, rep2.Skipped, rep2.Failed)
	}
	for k, v := range gh.gets {
		if v > before[k] && !strings.HasSuffix(k, "b.jpg") && !strings.HasSuffix(k, truncated) && !strings.HasSuffix(k, "corrupt.png") {
			t.Errorf("%s downloaded again though complete", k)
		}
	}
	if len(rep2.Missing) != 2 || rep2.Complete() {
		t.Errorf("second run: missing %v", rep2.Missing)
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
	rep3, err := Fetch(context.Background(), opt)
	if err != nil {
		t.Fatal(err)
	}
	if rep3.Downloaded != 1 {
		t.Errorf("third run downloaded %d, want 1 (the damaged file)", rep3.Downloaded)
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
	rep, err := Fetch(context.Background(), FetchOptions{To: dir, BaseAPI: srv.URL + "/api", BaseRaw: srv.URL + "/raw", Client: srv.Client()})
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
	rep, err := Fetch(context.Background(), FetchOptions{To: t.TempDir(), BaseAPI: srv.URL + "/api", BaseRaw: srv.URL + "/raw", Client: srv.Client(), Retries: 1})
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
	_, err := Fetch(ctx, FetchOptions{To: t.TempDir(), BaseAPI: srv.URL + "/api", BaseRaw: srv.URL + "/raw", Client: srv.Client()})
	if err == nil {
		t.Error("want an error for a cancelled context")
	}
}

func TestParseTreeListing(t *testing.T) {
	tests := []struct {
		in      string
		wantErr string
		n       int
	}{
		{`{"tree":[{"path":"a/b.json","type":"blob","size":3},{"path":"a","type":"tree"}],"truncated":false}`, "", 2},
		{`{"tree":[]}`, "", 0},
		{`{"sha":"x"}`, "no \"tree\"", 0},
		{`{"tree":[{"path":"../etc/passwd","type":"blob","size":1}]}`, "unsafe path", 0},
		{`{"tree":[{"path":"/abs","type":"blob","size":1}]}`, "unsafe path", 0},
		{`{"tree":[{"path":"a//b","type":"blob","size":1}]}`, "unsafe path", 0},
		{`{"tree":[{"path":"a/b","type":"blob","size":-1}]}`, "negative size", 0},
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
		if err != nil || len(l.Tree) != tc.n {
			t.Errorf("%s: %v, %d entries", tc.in, err, len(l.Tree))
		}
	}
}

func FuzzParseTreeListing(f *testing.F) {
	f.Add([]byte(`{"tree":[{"path":"a/b.json","type":"blob","size":3}],"truncated":true}`))
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
	root := filepath.Join("..", "..", "shared", "data")
	if _, err := os.Stat(root); err != nil {
		t.Skipf("real data not found at %s (%v): skipping", root, err)
	}
	for _, f := range []string{"covid-ar/patient_info.csv", "covid-ar/radiologist_notes.csv", "cohen/covid-severity-scores.csv", "cohen/metadata.csv", "cxr-seg/structure.csv", "cxr-seg/metadata.csv"} {
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
