package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// exampleData is the hand-made data folder of the datasets package.
var exampleData = filepath.Join("..", "..", "datasets", "testdata", "example")

func keys(m map[string]any) []string {
	var k []string
	for s := range m {
		k = append(k, s)
	}
	sort.Strings(k)
	return k
}

func TestDataStatsJSON(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"data", "stats", "--data", exampleData, "--json"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	// Exactly one JSON object on stdout.
	dec := json.NewDecoder(bytes.NewReader(out.Bytes()))
	var v map[string]any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	if dec.More() || strings.TrimSpace(out.String()[dec.InputOffset():]) != "" {
		t.Errorf("more than one JSON value on stdout:\n%s", out.String())
	}
	// The keys of the schema, exactly.
	if got := keys(v); !reflect.DeepEqual(got, []string{"cohorts", "synthetic"}) {
		t.Errorf("top-level keys %v", got)
	}
	cohorts := v["cohorts"].(map[string]any)
	want := map[string][]string{
		"covid-ar":    {"annotations", "errors", "images_decoded", "labels", "patients", "patients_without_clinical_row", "without_opacity"},
		"cohen":       {"annotations", "errors", "images_decoded", "with_severity_score", "without_opacity"},
		"cxr-seg":     {"classes", "errors", "images", "images_decoded", "patients", "without_both_lungs", "without_opacity"},
		"covid-qu-ex": {"classes", "errors", "groups", "images", "images_decoded", "near_duplicate_images", "without_both_lungs", "without_opacity"},
	}
	if got := keys(cohorts); !reflect.DeepEqual(got, []string{"cohen", "covid-ar", "covid-qu-ex", "cxr-seg"}) {
		t.Errorf("cohorts %v", got)
	}
	for name, k := range want {
		c, ok := cohorts[name].(map[string]any)
		if !ok {
			t.Errorf("%s missing", name)
			continue
		}
		if got := keys(c); !reflect.DeepEqual(got, k) {
			t.Errorf("%s keys %v, want %v", name, got, k)
		}
	}
	// A few values of the example (worked out in datasets/cohort_test.go).
	ar := cohorts["covid-ar"].(map[string]any)
	if ar["annotations"] != 4.0 || ar["patients"] != 2.0 || len(ar["errors"].([]any)) != 1 ||
		!reflect.DeepEqual(ar["patients_without_clinical_row"], []any{"COVID-19-AR-3"}) {
		t.Errorf("covid-ar %v", ar)
	}
	if errs, ok := cohorts["cohen"].(map[string]any)["errors"].([]any); !ok || len(errs) != 0 {
		t.Errorf("cohen errors %v, want []", cohorts["cohen"].(map[string]any)["errors"])
	}
	if v["synthetic"] != false {
		t.Errorf("synthetic %v", v["synthetic"])
	}
}

func TestDataStatsTable(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{"data", "stats", "--data", exampleData}, &out, &errb); code != 0 {
		t.Fatalf("exit %d, stderr %s", code, errb.String())
	}
	for _, s := range []string{"(real)", "covid-ar", "cxr-seg", "patients without clinical row: COVID-19-AR-3", "covid-ar errors:", "a polygon needs at least 3 points"} {
		if !strings.Contains(out.String(), s) {
			t.Errorf("table lacks %q:\n%s", s, out.String())
		}
	}
}

func TestDataStatsBadUse(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"missing data folder", []string{"--data", filepath.Join(t.TempDir(), "nope"), "--json"}, "nope"},
		{"no --data", nil, "--data is required"},
		{"extra argument", []string{"--data", exampleData, "x"}, "unexpected arguments: x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out, errb bytes.Buffer
			code := run(append([]string{"data", "stats"}, tt.args...), &out, &errb)
			if code != 1 || !strings.Contains(errb.String(), tt.want) || out.Len() != 0 {
				t.Errorf("exit %d, stdout %q, stderr %q; want 1, nothing, %q", code, out.String(), errb.String(), tt.want)
			}
		})
	}
}
