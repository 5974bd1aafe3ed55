package datasets

import (
	"io"
	"strconv"
	"strings"

	"github.com/covidxray/opacity/datasets/mask"
)

// BrixiaScore is one radiologist's Brixia score of one frontal chest X-ray
// (Borghesi & Maroldi 2020). Each lung is cut into three zones and each zone
// scored 0-3 (0 no lung abnormality, 1 interstitial infiltrates, 2
// interstitial and alveolar infiltrates with interstitial predominance, 3
// interstitial and alveolar infiltrates with alveolar predominance).
//
// Zones holds the six zone scores in the order A..F:
//
//	A = right lung, upper zone    D = left lung, upper zone
//	B = right lung, middle zone   E = left lung, middle zone
//	C = right lung, lower zone    F = left lung, lower zone
//
// "Right" is the patient's right, on the image's left (radiological
// convention, as in SplitLungs). Global is the sum of the six, 0-18.
type BrixiaScore struct {
	Zones  [6]int
	Global int
}

// BrixiaScores holds the scores of one image by the two radiologists of the
// Brixia public annotations, S and J.
type BrixiaScores struct {
	File string // image file name as in the table
	S, J BrixiaScore
}

// ReadBrixia reads the Brixia public-annotations.csv (UTF-8 with a byte-order
// mark, CRLF or LF line endings; header filename, S-A, ..., S-F, S-Global,
// J-A, ..., J-F, J-Global, in any order, names compared without case and
// surrounding spaces; other columns are ignored) and returns the scores by
// file stem (the file name without its extension), so that they match the
// images of the other cohorts whatever their extension.
//
// Every zone score must be a whole number 0-3 and every Global the sum of its
// radiologist's six zones (all 192 rows of the published file satisfy both);
// a missing column, an empty filename and two rows for one stem are errors
// too. Errors name the file and line.
func ReadBrixia(path string) (map[string]BrixiaScores, error) {
	return readFile(path, parseBrixia)
}

func parseBrixia(name string, r io.Reader) (map[string]BrixiaScores, error) {
	t, err := readCSV(name, r)
	if err != nil {
		return nil, err
	}
	// want: filename, then per radiologist (S, J) A..F and Global.
	want := [][]string{{"filename"}}
	for _, reader := range "SJ" {
		for _, z := range mask.BrixiaZoneNames {
			want = append(want, []string{string(reader) + "-" + string(z)})
		}
		want = append(want, []string{string(reader) + "-Global"})
	}
	cols, err := t.columns(want...)
	if err != nil {
		return nil, err
	}
	out := make(map[string]BrixiaScores, len(t.rows))
	for i, row := range t.rows {
		s := BrixiaScores{File: strings.TrimSpace(row[cols[0]])}
		if s.File == "" {
			return nil, t.errorf(i, "empty filename")
		}
		for k, dst := range []*BrixiaScore{&s.S, &s.J} {
			base := 1 + 7*k
			sum := 0
			for z := range 6 {
				c := cols[base+z]
				v := strings.TrimSpace(row[c])
				n, err := strconv.Atoi(v)
				if err != nil || n < 0 || n > 3 {
					return nil, t.errorf(i, "%s: %s = %q, want a zone score 0-3", s.File, t.header[c], v)
				}
				dst.Zones[z] = n
				sum += n
			}
			c := cols[base+6]
			v := strings.TrimSpace(row[c])
			g, err := strconv.Atoi(v)
			if err != nil {
				return nil, t.errorf(i, "%s: %s = %q is not a whole number", s.File, t.header[c], v)
			}
			if g != sum {
				return nil, t.errorf(i, "%s: %s = %d, but the zones %s sum to %d", s.File, t.header[c], g, mask.BrixiaZoneNames, sum)
			}
			dst.Global = g
		}
		stem := fileStem(s.File)
		if prev, dup := out[stem]; dup {
			return nil, t.errorf(i, "%s: a second row for %s (first: %s)", s.File, stem, prev.File)
		}
		out[stem] = s
	}
	return out, nil
}
