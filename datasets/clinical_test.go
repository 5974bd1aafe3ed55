package datasets

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestParseClinical(t *testing.T) {
	header := "PATIENT_ID,AGE,ICU Admit,# ICU admits,MORTALITY\r\n"
	tests := []struct {
		name, csv string
		want      map[string]Outcome
		wantErr   string
	}{
		{
			name: "CRLF, extra columns ignored",
			csv:  header + "P-1,51,1,2,0\r\nP-2,44,0,0,1\r\n",
			want: map[string]Outcome{"P-1": {ICU: 1}, "P-2": {Mortality: 1}},
		},
		{
			name: "LF, BOM, column names in another case and order",
			csv:  "\uFEFFmortality, icu admit ,patient_id\n1,1,P-3\n",
			want: map[string]Outcome{"P-3": {ICU: 1, Mortality: 1}},
		},
		{name: "header only", csv: header, want: map[string]Outcome{}},
		{name: "empty file", csv: "", wantErr: "c.csv: empty file"},
		{name: "missing column", csv: "PATIENT_ID,ICU Admit\nP,1\n", wantErr: `c.csv: no column "MORTALITY"`},
		{name: "short row", csv: header + "P-1,51,1,2,0\r\nP-2,44,0\r\n", wantErr: "c.csv:3: 3 fields, the header has 5"},
		{name: "long row", csv: header + "P-1,51,1,2,0,9\r\n", wantErr: "c.csv:2: 6 fields, the header has 5"},
		{name: "not 0/1", csv: header + "P-1,51,NULL,2,0\r\n", wantErr: `c.csv:2: ICU Admit = "NULL", want 0 or 1`},
		{name: "two rows for a patient", csv: header + "P-1,51,1,2,0\r\nP-1,51,1,2,0\r\n", wantErr: "c.csv:3: patient P-1 has a second row"},
		{name: "empty id", csv: header + ",51,1,2,0\r\n", wantErr: "c.csv:2: empty PATIENT_ID"},
		{name: "bad quoting", csv: header + "\"P-1,51,1,2,0\r\n", wantErr: "c.csv:2:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseClinical("c.csv", strings.NewReader(tt.csv))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestParseRadiologistNotes(t *testing.T) {
	header := "patient_id,Diag to img study (days),Diagnosis to Imaging time (hrs),Image Study Description,Radiologist KEY FINDINGS\r\n"
	tests := []struct {
		name, csv string
		want      []RadiologistNote
		wantErr   string
	}{
		{
			name: "multi-line quoted findings, trailing empty rows",
			csv: header + "P-1,-7,-150,XR CHEST PA AND LATERAL,Trace effusion.\r\n" +
				"P-1,30,738,CT PE CHEST,\"Improvement, a few\nnodular opacities.\"\r\n,,,,\r\n,,,,\r\n",
			want: []RadiologistNote{
				{Patient: "P-1", DaysFromDiagnosis: -7, Description: "XR CHEST PA AND LATERAL", Findings: "Trace effusion."},
				{Patient: "P-1", DaysFromDiagnosis: 30, Description: "CT PE CHEST", Findings: "Improvement, a few\nnodular opacities."},
			},
		},
		{name: "days not a number", csv: header + "P-1,soon,1,XR,x\r\n", wantErr: `n.csv:2: Diag to img study (days) = "soon" is not a whole number`},
		// The line of a record is where it starts: the multi-line record
		// starts on line 2, the bad one on line 4.
		{name: "wrong field count after a multi-line field", csv: header + "P-1,1,1,XR,\"a\nb\"\r\nP-2,1,1\r\n", wantErr: "n.csv:4: 3 fields, the header has 5"},
		{name: "missing patient", csv: header + ",1,1,XR,x\r\n", wantErr: "n.csv:2: empty patient_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseRadiologistNotes("n.csv", strings.NewReader(tt.csv))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParseSeverityScores(t *testing.T) {
	comments := "## Scores, mean of 3 raters\n## License: CC BY-SA, see x\n"
	tests := []struct {
		name, csv string
		want      map[string]SeverityScore
		wantErr   string
	}{
		{
			name: "comments skipped, keyed by stem",
			csv:  comments + "filename,geographic_mean,opacity_mean\na.jpeg,6.0,4.0\nb.c.png,2.7,2.0\n",
			want: map[string]SeverityScore{
				"a":   {File: "a.jpeg", GeographicMean: 6, OpacityMean: 4},
				"b.c": {File: "b.c.png", GeographicMean: 2.7, OpacityMean: 2},
			},
		},
		// Line numbers count the comment lines: the bad row is line 4.
		{name: "not a number", csv: comments + "filename,geographic_mean,opacity_mean\na.jpeg,x,4.0\n", wantErr: `s.csv:4: geographic_mean = "x" is not a score`},
		{name: "NaN", csv: "filename,geographic_mean,opacity_mean\na.jpeg,NaN,4.0\n", wantErr: "is not a score"},
		{name: "same stem twice", csv: "filename,geographic_mean,opacity_mean\na.jpeg,1,1\na.png,1,1\n", wantErr: "s.csv:3: a.png: a second score for a (first: a.jpeg)"},
		{name: "wrong count", csv: "filename,geographic_mean,opacity_mean\na.jpeg,1\n", wantErr: "s.csv:2: 2 fields, the header has 3"},
		{name: "a single # is not a comment", csv: "filename,geographic_mean,opacity_mean\n# x,1,1\n", want: map[string]SeverityScore{"# x": {File: "# x", GeographicMean: 1, OpacityMean: 1}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseSeverityScores("s.csv", strings.NewReader(tt.csv))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %+v, %v; want %+v", got, err, tt.want)
			}
		})
	}
}

func TestParsePatientIDs(t *testing.T) {
	tests := []struct {
		name, csv string
		want      map[string]string
		wantErr   string
	}{
		{
			name: "Cohen's header (Patientid, trailing empty column, quoted commas)",
			csv:  "Patientid,offset,date,filename,doi,\n2,0,\"January 22, 2020\",a.jpeg,x,\n3,1,\"x\",b.c.jpg,,\n4,,,,,\n",
			want: map[string]string{"a": "2", "b.c": "3"},
		},
		{name: "same image twice, same patient", csv: "patientid,filename\n7,a.jpg\n7,a.jpg\n", want: map[string]string{"a": "7"}},
		{name: "same image, two patients", csv: "patientid,filename\n7,a.jpg\n8,a.png\n", wantErr: "m.csv:3: a.png: patient 8, but an earlier row says 7"},
		{name: "no patientid column", csv: "id,filename\n7,a.jpg\n", wantErr: `m.csv: no column "patientid"`},
		{name: "empty patientid", csv: "patientid,filename\n,a.jpg\n", wantErr: "m.csv:2: a.jpg: empty patientid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parsePatientIDs("m.csv", strings.NewReader(tt.csv))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || !reflect.DeepEqual(got, tt.want) {
				t.Errorf("got %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestReadCSVFiles(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "patient_info.csv")
	if err := os.WriteFile(p, []byte("PATIENT_ID,ICU Admit,MORTALITY\r\nA,1,1\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadClinical(p)
	if err != nil || got["A"] != (Outcome{ICU: 1, Mortality: 1}) {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := ReadClinical(filepath.Join(dir, "missing.csv")); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("error %v, want one naming missing.csv", err)
	}
}

// FuzzReadCSV feeds arbitrary bytes to every CSV reader of the package: none
// may panic, and each error must name the file.
func FuzzReadCSV(f *testing.F) {
	f.Add("PATIENT_ID,ICU Admit,MORTALITY\r\nA,1,0\r\n")
	f.Add("patient_id,Diag to img study (days),Image Study Description,Radiologist KEY FINDINGS\nP,-1,XR,\"a\nb\"\n,,,\n")
	f.Add("## c\nfilename,geographic_mean,opacity_mean\na.jpg,1.5,2\n")
	f.Add("Patientid,filename,\n1,a.jpg,\n")
	f.Add(`"#",Taxonomy,Class,Template Name,File Folder,Filename,Image,Tag,Mask,Resolution,Top,Left,Width,Height` + "\n" +
		`1,,"C","Left Lung",,"a.jpg",images/x.jpg,t.png,masks/m.png,20x10,1,2,3,4` + "\n")
	f.Fuzz(func(t *testing.T, data string) {
		check := func(err error) {
			if err != nil && !strings.HasPrefix(err.Error(), "f.csv") {
				t.Fatalf("error does not name the file: %v", err)
			}
		}
		_, err := parseClinical("f.csv", strings.NewReader(data))
		check(err)
		_, err = parseRadiologistNotes("f.csv", strings.NewReader(data))
		check(err)
		_, err = parseSeverityScores("f.csv", strings.NewReader(data))
		check(err)
		_, err = parsePatientIDs("f.csv", strings.NewReader(data))
		check(err)
		_, err = parseStructure("f.csv", strings.NewReader(data))
		check(err)
	})
}
