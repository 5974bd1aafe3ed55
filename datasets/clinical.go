package datasets

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/covidxray/opacity/num"
)

// Outcome is a patient's clinical outcome from patient_info.csv: 1 for yes,
// 0 for no.
type Outcome struct {
	ICU       int // "ICU Admit": admitted to the intensive care unit
	Mortality int // "MORTALITY": died
}

// ReadClinical reads the clinical table of the covid-ar cohort
// (patient_info.csv; CRLF or LF line endings) and returns each patient's
// outcome by PATIENT_ID. The columns PATIENT_ID, "ICU Admit" and MORTALITY
// must be there (names compared without case and surrounding spaces; other
// columns are ignored), the outcomes must be 0 or 1, and a patient may have
// only one row. Errors name the file and line.
func ReadClinical(path string) (map[string]Outcome, error) {
	return readFile(path, parseClinical)
}

func parseClinical(name string, r io.Reader) (map[string]Outcome, error) {
	t, err := readCSV(name, r)
	if err != nil {
		return nil, err
	}
	cols, err := t.columns([]string{"PATIENT_ID"}, []string{"ICU Admit"}, []string{"MORTALITY"})
	if err != nil {
		return nil, err
	}
	out := make(map[string]Outcome, len(t.rows))
	for i, row := range t.rows {
		id := strings.TrimSpace(row[cols[0]])
		if id == "" {
			return nil, t.errorf(i, "empty PATIENT_ID")
		}
		if _, dup := out[id]; dup {
			return nil, t.errorf(i, "patient %s has a second row", id)
		}
		var o Outcome
		for k, dst := range []*int{&o.ICU, &o.Mortality} {
			v := strings.TrimSpace(row[cols[k+1]])
			if v != "0" && v != "1" {
				return nil, t.errorf(i, "%s = %q, want 0 or 1", t.header[cols[k+1]], v)
			}
			*dst = int(v[0] - '0')
		}
		out[id] = o
	}
	return out, nil
}

// RadiologistNote is one imaging study of a covid-ar patient from
// radiologist_notes.csv.
type RadiologistNote struct {
	Patient           string // patient_id
	DaysFromDiagnosis int    // "Diag to img study (days)", negative before the diagnosis
	Description       string // "Image Study Description", e.g. XR CHEST AP PORTABLE
	Findings          string // "Radiologist KEY FINDINGS" (may span lines)
}

// ReadRadiologistNotes reads radiologist_notes.csv, in file order. Rows with
// every field empty (the file ends with ",,,," rows) are skipped. Errors name
// the file and line.
func ReadRadiologistNotes(path string) ([]RadiologistNote, error) {
	return readFile(path, parseRadiologistNotes)
}

func parseRadiologistNotes(name string, r io.Reader) ([]RadiologistNote, error) {
	t, err := readCSV(name, r)
	if err != nil {
		return nil, err
	}
	cols, err := t.columns([]string{"patient_id"}, []string{"Diag to img study (days)"},
		[]string{"Image Study Description"}, []string{"Radiologist KEY FINDINGS"})
	if err != nil {
		return nil, err
	}
	out := make([]RadiologistNote, 0, len(t.rows))
	for i, row := range t.rows {
		n := RadiologistNote{
			Patient:     strings.TrimSpace(row[cols[0]]),
			Description: strings.TrimSpace(row[cols[2]]),
			Findings:    strings.TrimSpace(row[cols[3]]),
		}
		if n.Patient == "" {
			return nil, t.errorf(i, "empty patient_id")
		}
		days := strings.TrimSpace(row[cols[1]])
		if n.DaysFromDiagnosis, err = strconv.Atoi(days); err != nil {
			return nil, t.errorf(i, "%s = %q is not a whole number", t.header[cols[1]], days)
		}
		out = append(out, n)
	}
	return out, nil
}

// SeverityScore is the Cohen et al. severity score of one image (mean of
// three radiologists).
type SeverityScore struct {
	File           string  // image file name as in the table
	GeographicMean float64 // extent of lung involvement, 0-8
	OpacityMean    float64 // degree of opacity, 0-6
}

// ReadSeverityScores reads covid-severity-scores.csv (lines starting with
// "##" are comments; then filename, geographic_mean, opacity_mean) and
// returns the scores by file stem (the file name without its extension), so
// that annotations and images match them whatever their extension. Errors
// name the file and line; two rows for one stem are an error.
func ReadSeverityScores(path string) (map[string]SeverityScore, error) {
	return readFile(path, parseSeverityScores)
}

func parseSeverityScores(name string, r io.Reader) (map[string]SeverityScore, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	// Blank the "##" lines, keeping the line numbers of the others.
	lines := bytes.SplitAfter(data, []byte("\n"))
	for i, l := range lines {
		if bytes.HasPrefix(l, []byte("##")) {
			lines[i] = []byte("\n")
		}
	}
	t, err := readCSV(name, bytes.NewReader(bytes.Join(lines, nil)))
	if err != nil {
		return nil, err
	}
	cols, err := t.columns([]string{"filename"}, []string{"geographic_mean"}, []string{"opacity_mean"})
	if err != nil {
		return nil, err
	}
	out := make(map[string]SeverityScore, len(t.rows))
	for i, row := range t.rows {
		s := SeverityScore{File: strings.TrimSpace(row[cols[0]])}
		if s.File == "" {
			return nil, t.errorf(i, "empty filename")
		}
		for k, dst := range []*float64{&s.GeographicMean, &s.OpacityMean} {
			v := strings.TrimSpace(row[cols[k+1]])
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || !num.Finite(f) || f < 0 {
				return nil, t.errorf(i, "%s = %q is not a score", t.header[cols[k+1]], v)
			}
			*dst = f
		}
		stem := fileStem(s.File)
		if prev, dup := out[stem]; dup {
			return nil, t.errorf(i, "%s: a second score for %s (first: %s)", s.File, stem, prev.File)
		}
		out[stem] = s
	}
	return out, nil
}

// ReadPatientIDs reads the metadata.csv of the Cohen collection (cohen/ and
// cxr-seg/) and returns the patient id of each image by file stem (column
// "filename" without its extension; column "patientid", any case). Rows
// without a file name are skipped; one stem with two different patient ids
// is an error. Errors name the file and line.
func ReadPatientIDs(metadataCSV string) (map[string]string, error) {
	return readFile(metadataCSV, parsePatientIDs)
}

func parsePatientIDs(name string, r io.Reader) (map[string]string, error) {
	t, err := readCSV(name, r)
	if err != nil {
		return nil, err
	}
	cols, err := t.columns([]string{"patientid"}, []string{"filename"})
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(t.rows))
	for i, row := range t.rows {
		file := strings.TrimSpace(row[cols[1]])
		if file == "" {
			continue
		}
		id := strings.TrimSpace(row[cols[0]])
		if id == "" {
			return nil, t.errorf(i, "%s: empty patientid", file)
		}
		stem := fileStem(file)
		if prev, ok := out[stem]; ok && prev != id {
			return nil, t.errorf(i, "%s: patient %s, but an earlier row says %s", file, id, prev)
		}
		out[stem] = id
	}
	return out, nil
}

// readFile opens path and parses it with parse, which names path in its
// errors.
func readFile[T any](path string, parse func(string, io.Reader) (T, error)) (T, error) {
	f, err := os.Open(path)
	if err != nil {
		var zero T
		return zero, err
	}
	defer f.Close()
	return parse(path, f)
}

// csvTable is a CSV file read whole: a header and rows of the header's
// length, each with the line it starts on.
type csvTable struct {
	name   string
	header []string
	rows   [][]string
	lines  []int
}

// readCSV reads a CSV file (RFC 4180 quoting, fields may span lines, CRLF or
// LF, a UTF-8 byte-order mark ignored). The first record is the header.
// Records with every field empty are skipped; any other record with a field
// count other than the header's is an error naming the file and line.
func readCSV(name string, r io.Reader) (*csvTable, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	t := &csvTable{name: name}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("%s:%d: %v", name, pe.StartLine, pe.Err)
			}
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		line, _ := cr.FieldPos(0)
		if t.header == nil {
			rec[0] = strings.TrimPrefix(rec[0], "\uFEFF")
			t.header = rec
			continue
		}
		if allEmpty(rec) {
			continue
		}
		if len(rec) != len(t.header) {
			return nil, fmt.Errorf("%s:%d: %d fields, the header has %d", name, line, len(rec), len(t.header))
		}
		t.rows = append(t.rows, rec)
		t.lines = append(t.lines, line)
	}
	if t.header == nil {
		return nil, fmt.Errorf("%s: empty file, no header", name)
	}
	return t, nil
}

func allEmpty(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

// columns returns the index of each wanted column, given as alternative
// names compared without case and surrounding spaces.
func (t *csvTable) columns(want ...[]string) ([]int, error) {
	idx := make([]int, len(want))
	for k, names := range want {
		idx[k] = -1
	find:
		for i, h := range t.header {
			for _, n := range names {
				if strings.EqualFold(strings.TrimSpace(h), n) {
					idx[k] = i
					break find
				}
			}
		}
		if idx[k] < 0 {
			return nil, fmt.Errorf("%s: no column %q in the header", t.name, names[0])
		}
	}
	return idx, nil
}

// errorf returns an error naming the file and the line of row i.
func (t *csvTable) errorf(i int, format string, args ...any) error {
	return fmt.Errorf("%s:%d: %s", t.name, t.lines[i], fmt.Sprintf(format, args...))
}
