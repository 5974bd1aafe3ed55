package research

import (
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
// one split ("train" or "test") after one epoch.
type EpochRecord struct {
	Epoch         int
	Split         string
	Loss          float64
	IoUSoftPooled float64 // convention a (the paper's)
	IoUPerImage   float64 // convention c; NaN when the file leaves it empty
	F1            float64
}

// metricsColumns are the columns of metrics.csv, in any order; extra columns
// are ignored.
var metricsColumns = []string{"epoch", "split", "loss", "iou_soft_pooled", "iou_per_image", "f1"}

// ReadMetricsCSV reads a training run's metrics.csv (header
// epoch,split,loss,iou_soft_pooled,iou_per_image,f1).
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
// An empty value of a metric reads as NaN.
func ParseMetricsCSV(r io.Reader) ([]EpochRecord, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	header, err := cr.Read()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("empty file: want a header %s", strings.Join(metricsColumns, ","))
		}
		return nil, err
	}
	col := map[string]int{}
	for i, h := range header {
		col[strings.TrimSpace(strings.TrimPrefix(h, "\ufeff"))] = i
	}
	for _, c := range metricsColumns {
		if _, ok := col[c]; !ok {
			return nil, fmt.Errorf("header has no column %q (want %s)", c, strings.Join(metricsColumns, ","))
		}
	}
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
