package research

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
)

// EpochRecord is one row of a training run's metrics.csv: the metrics of
// one target ("opacity", "lungs") on one split ("train" or "test") after one
// epoch. The model is evaluated in inference mode (batch norms with running
// averages) on the un-augmented images:
//
//   - Loss: Dice + focal of that target, the mean over the split's images
//     of the batch losses weighted by batch size (as Keras' evaluate);
//   - IoUSoftPooled: the paper's IoU, soft probabilities pooled over the
//     split (Scores.SoftPooledIoU, convention a);
//   - IoUPerImage: the mean of per-image hard IoUs at threshold 0.5, an
//     image with empty truth and empty prediction scoring 1 (convention c);
//   - F1: the paper's F1, soft and pooled like IoUSoftPooled.
type EpochRecord struct {
	Epoch         int     `json:"epoch"`
	Split         string  `json:"split"`
	Target        string  `json:"target"`
	Loss          float64 `json:"loss"`
	IoUSoftPooled float64 `json:"iou_soft_pooled"` // convention a (the paper's)
	IoUPerImage   float64 `json:"iou_per_image"`   // convention c; NaN when the file leaves it empty
	F1            float64 `json:"f1"`
}

// MetricsColumns are the columns of metrics.csv as WriteMetricsCSV writes
// them: the schema a run record names.
var MetricsColumns = []string{"epoch", "split", "target", "loss", "iou_soft_pooled", "iou_per_image", "f1"}

// DefaultMetricsTarget is the target of the rows of a metrics.csv written
// before targets existed (no target column): the paper's opacity.
const DefaultMetricsTarget = "opacity"

// requiredMetricsColumns are the columns ParseMetricsCSV needs; target is
// optional (DefaultMetricsTarget when absent).
var requiredMetricsColumns = []string{"epoch", "split", "loss", "iou_soft_pooled", "iou_per_image", "f1"}

// FormatMetricsCSV renders records as metrics.csv (header MetricsColumns;
// numbers with 6 significant digits; NaN as an empty field).
func FormatMetricsCSV(records []EpochRecord) []byte {
	var b bytes.Buffer
	b.WriteString(strings.Join(MetricsColumns, ",") + "\n")
	num := func(v float64) string {
		if math.IsNaN(v) {
			return ""
		}
		return strconv.FormatFloat(v, 'g', 6, 64)
	}
	for _, r := range records {
		fmt.Fprintf(&b, "%d,%s,%s,%s,%s,%s,%s\n", r.Epoch, r.Split, r.Target, num(r.Loss), num(r.IoUSoftPooled), num(r.IoUPerImage), num(r.F1))
	}
	return b.Bytes()
}

// ReadMetricsCSV reads a training run's metrics.csv (see MetricsColumns).
func ReadMetricsCSV(path string) ([]EpochRecord, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recs, err := ParseMetricsCSV(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return recs, nil
}

// ParseMetricsCSV parses the content of a metrics.csv; see ReadMetricsCSV.
// Columns may come in any order and extra columns are ignored; a file
// without a target column (written before targets existed) holds
// DefaultMetricsTarget rows. An empty value of a metric reads as NaN.
func ParseMetricsCSV(r io.Reader) ([]EpochRecord, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("empty file: want a header %s", strings.Join(MetricsColumns, ","))
		}
		return nil, err
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	for _, c := range requiredMetricsColumns {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("header has no column %q (want %s)", c, strings.Join(MetricsColumns, ","))
		}
	}
	_, hasTarget := col["target"]
	var out []EpochRecord
	for line := 2; ; line++ {
		row, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
		if len(row) != len(header) {
			return nil, fmt.Errorf("line %d: %d fields, header has %d", line, len(row), len(header))
		}
		get := func(name string) string { return strings.TrimSpace(row[col[name]]) }
		var rec EpochRecord
		if rec.Epoch, err = strconv.Atoi(get("epoch")); err != nil || rec.Epoch < 0 {
			return nil, fmt.Errorf("line %d: epoch %q is not a non-negative integer", line, get("epoch"))
		}
		rec.Split = get("split")
		if rec.Split == "" {
			return nil, fmt.Errorf("line %d: empty split", line)
		}
		rec.Target = DefaultMetricsTarget
		if hasTarget {
			if rec.Target = get("target"); rec.Target == "" {
				return nil, fmt.Errorf("line %d: empty target", line)
			}
		}
		for _, m := range []struct {
			name string
			dst  *float64
		}{{"loss", &rec.Loss}, {"iou_soft_pooled", &rec.IoUSoftPooled}, {"iou_per_image", &rec.IoUPerImage}, {"f1", &rec.F1}} {
			s := get(m.name)
			if s == "" {
				*m.dst = math.NaN()
				continue
			}
			v, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsInf(v, 0) {
				return nil, fmt.Errorf("line %d: %s %q is not a finite number", line, m.name, s)
			}
			*m.dst = v
		}
		out = append(out, rec)
	}
}
