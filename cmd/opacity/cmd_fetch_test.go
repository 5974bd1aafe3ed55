package main

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets/fetch"
)

// TestDataFetchCommand runs "data fetch" against a server whose
// repositories hold only the clinical table: it lands, everything else is
// reported missing, and the exit status is 1.
func TestDataFetchCommand(t *testing.T) {
	csv := "PATIENT_ID,ICU Admit,MORTALITY\nA,0,0\n"
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, "/api/repos/haimingt/"):
			w.Write([]byte(`{"tree":[{"path":"covid_rural_annot/covid_rural_patient_info.csv","type":"blob","size":` + strconv.Itoa(len(csv)) + `,"sha":"` + fetch.GitBlobSHA1([]byte(csv)) + `"}],"truncated":false}`))
		case strings.HasPrefix(r.URL.Path, "/api/repos/"):
			w.Write([]byte(`{"tree":[],"truncated":false}`))
		case r.URL.Path == "/raw/haimingt/opacity_segmentation_covid_chest_X_ray/master/covid_rural_annot/covid_rural_patient_info.csv":
			w.Write([]byte(csv))
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()
	dir := t.TempDir()
	var stdout, stderr bytes.Buffer
	code := run([]string{"data", "fetch", "--data", dir, "--api", srv.URL + "/api", "--raw", srv.URL + "/raw"}, &stdout, &stderr)
	if code != 1 {
		t.Fatalf("exit %d, want 1 (missing files)\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
	}
	got, err := os.ReadFile(filepath.Join(dir, "covid-ar", "patient_info.csv"))
	if err != nil || string(got) != csv {
		t.Errorf("patient_info.csv: %q, %v", got, err)
	}
	out := stdout.String()
	for _, want := range []string{"downloaded 1 files", "missing from the sources", "cxr-seg/structure.csv", "cohen/metadata.csv",
		"brixia/public-annotations.csv (BrixIA/Brixia-score-COVID-19@770036d297b3c52a6789f134bd9d8c8953d33ec1 has no data/public-annotations.csv)",
		"covid-qu-ex/ (jas127/PS_Covid19@57c6aed06423de95940ddb216e2e7ac4eab82dba has no images"} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(stderr.String(), "[1/1] covid-ar/patient_info.csv") || !strings.Contains(stderr.String(), "incomplete") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
}

func TestDataFetchNeedsData(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"data", "fetch"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "--data is required") {
		t.Errorf("exit %d, stderr %s", code, stderr.String())
	}
}
