package experiment

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strings"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/num"
	"github.com/covidxray/opacity/research"
)

// CV report files in the CV folder.
const (
	CVReportFile  = "cv.json"
	CVMetricsFile = "cv-metrics" // .md and .csv
	CVOOFFile     = "oof.csv"
)

// MarshalJSON encodes the metric with NaN values as null.
func (m CVMetric) MarshalJSON() ([]byte, error) {
	per := make([]*float64, len(m.PerFold))
	for i, v := range m.PerFold {
		per[i] = num.Nullable(v)
	}
	return json.Marshal(struct {
		Name    string      `json:"name"`
		Target  string      `json:"target,omitempty"`
		N       int         `json:"n"`
		Pooled  *float64    `json:"pooled"`
		PerFold []*float64  `json:"per_fold"`
		Mean    *float64    `json:"mean"`
		SD      *float64    `json:"sd"`
		CI95    [2]*float64 `json:"ci95"`
		Min     *float64    `json:"min"`
		Max     *float64    `json:"max"`
	}{m.Name, m.Target, m.N, num.Nullable(m.Pooled), per, num.Nullable(m.Mean), num.Nullable(m.SD),
		[2]*float64{num.Nullable(m.CI95[0]), num.Nullable(m.CI95[1])}, num.Nullable(m.Min), num.Nullable(m.Max)})
}

// MetricsTable returns the merged table: one row per metric, with its
// value pooled over the out-of-fold images, the mean, SD and 95% interval
// of its per-fold values, their range, and each fold's value.
func (r *CVReport) MetricsTable() (header []string, rows [][]string) {
	header = []string{"target", "metric", "images", "pooled out of fold", "mean of folds", "SD", "95% CI (t)", "min", "max"}
	for _, f := range r.Complete {
		header = append(header, fmt.Sprintf("fold %d", f))
	}
	for _, m := range r.Metrics {
		row := []string{m.Target, m.Name, fmt.Sprint(m.N), research.FormatScore(m.Pooled), research.FormatScore(m.Mean),
			research.FormatScore(m.SD), fmtInterval(m.CI95), research.FormatScore(m.Min), research.FormatScore(m.Max)}
		for _, v := range m.PerFold {
			row = append(row, research.FormatScore(v))
		}
		rows = append(rows, row)
	}
	return header, rows
}

// fmtInterval renders a 95% interval, "—" when undefined.
func fmtInterval(ci [2]float64) string {
	if !num.Finite(ci[0], ci[1]) {
		return "—"
	}
	return research.FormatScore(ci[0]) + "–" + research.FormatScore(ci[1])
}

// Markdown renders the report: which folds it holds, then the table.
func (r *CVReport) Markdown() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Cross-validation, %d folds by patient: %d complete (%d out-of-fold images)", r.Folds, len(r.Complete), r.Images)
	if len(r.Missing) > 0 {
		fmt.Fprintf(&b, "; missing (not run yet): %v", r.Missing)
	}
	if len(r.Failed) > 0 {
		fmt.Fprintf(&b, "; failed: %s", strings.Join(r.Failed, "; "))
	}
	b.WriteString(".\n\n")
	header, rows := r.MetricsTable()
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	b.WriteString("| " + strings.Join(header, " | ") + " |\n|" + strings.Repeat("---|", len(header)) + "\n")
	for _, row := range rows {
		for i := range row {
			row[i] = esc(row[i])
		}
		b.WriteString("| " + strings.Join(row, " | ") + " |\n")
	}
	return b.String()
}

// writeReport writes the report's files into the CV folder, atomically.
func (cv *CV) writeReport(r *CVReport) error {
	if err := atomicfile.WriteJSON(filepath.Join(cv.Dir, CVReportFile), r, 0o644); err != nil {
		return err
	}
	if err := atomicfile.WriteFile(filepath.Join(cv.Dir, CVMetricsFile+".md"), []byte(r.Markdown()), 0o644); err != nil {
		return err
	}
	header, rows := r.MetricsTable()
	if err := writeCSV(filepath.Join(cv.Dir, CVMetricsFile+".csv"), header, rows); err != nil {
		return err
	}
	return WriteOOFCSV(filepath.Join(cv.Dir, CVOOFFile), r.OOF)
}

// WriteOOFCSV writes images as CSV (oof.csv's layout), atomically: one row
// per image and target (or per image, for images without counts), with
// the fold, the image, the patient, the target's pixel counts and IoU,
// then every named value (a column each, sorted; empty where undefined).
func WriteOOFCSV(path string, images []OOFImage) error {
	var names []string
	seen := map[string]bool{}
	for _, im := range images {
		for v := range im.Values {
			if !seen[v] {
				seen[v] = true
				names = append(names, v)
			}
		}
	}
	sort.Strings(names)
	oofHeader := append([]string{"fold", "image", "patient", "target", "truth_pixels", "predicted_pixels", "true_positive_pixels", "iou"}, names...)
	var oof [][]string
	for _, im := range images {
		targets := make([]string, 0, len(im.Counts))
		for t := range im.Counts {
			targets = append(targets, t)
		}
		sort.Strings(targets)
		if len(targets) == 0 {
			targets = []string{""}
		}
		for _, t := range targets {
			row := []string{fmt.Sprint(im.Fold), im.Image, im.Patient, t, "", "", "", ""}
			if c, ok := im.Counts[t]; ok {
				row[4], row[5], row[6], row[7] = fmt.Sprint(c.Truth), fmt.Sprint(c.Pred), fmt.Sprint(c.TP), research.FormatScore(c.IoU())
			}
			for _, v := range names {
				x, ok := im.Values[v]
				if !ok || math.IsNaN(x) {
					row = append(row, "")
				} else {
					row = append(row, fmt.Sprintf("%.6g", x))
				}
			}
			oof = append(oof, row)
		}
	}
	return writeCSV(path, oofHeader, oof)
}

// writeCSV writes a header and rows as CSV, atomically.
func writeCSV(path string, header []string, rows [][]string) error {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(header); err != nil {
		return err
	}
	if err := w.WriteAll(rows); err != nil {
		return err
	}
	return atomicfile.WriteFile(path, buf.Bytes(), 0o644)
}
