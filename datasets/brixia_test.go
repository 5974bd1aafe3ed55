package datasets

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets/internal/fixture"
)

const brixiaHeader = "filename,S-A,S-B,S-C,S-D,S-E,S-F,S-Global,J-A,J-B,J-C,J-D,J-E,J-F,J-Global"

func TestReadBrixia(t *testing.T) {
	const bom = "\uFEFF"
	tests := []struct {
		name    string
		data    string
		want    map[string]BrixiaScores
		wantErr string // substring of the error; "" for none
	}{
		{
			name: "BOM and CRLF",
			data: bom + brixiaHeader + "\r\n" +
				"a.jpeg,1,2,3,0,1,2,9,0,0,0,0,0,1,1\r\n" +
				"b.c.png,3,3,3,3,3,3,18,0,0,0,0,0,0,0\r\n",
			want: map[string]BrixiaScores{
				"a": {File: "a.jpeg",
					S: BrixiaScore{Zones: [6]int{1, 2, 3, 0, 1, 2}, Global: 9},
					J: BrixiaScore{Zones: [6]int{0, 0, 0, 0, 0, 1}, Global: 1}},
				"b.c": {File: "b.c.png",
					S: BrixiaScore{Zones: [6]int{3, 3, 3, 3, 3, 3}, Global: 18},
					J: BrixiaScore{}},
			},
		},
		{
			name: "LF, columns reordered, extra column, spaces, blank line",
			data: "J-Global, j-a ,J-B,J-C,J-D,J-E,J-F,note,FILENAME,S-Global,S-A,S-B,S-C,S-D,S-E,S-F\n" +
				"6, 1,1,1,1,1,1,x, x.jpg ,2,0,0,0,0,1,1\n" +
				",,,,,,,,,,,,,,,\n",
			want: map[string]BrixiaScores{
				"x": {File: "x.jpg",
					S: BrixiaScore{Zones: [6]int{0, 0, 0, 0, 1, 1}, Global: 2},
					J: BrixiaScore{Zones: [6]int{1, 1, 1, 1, 1, 1}, Global: 6}},
			},
		},
		{name: "header only", data: bom + brixiaHeader + "\r\n", want: map[string]BrixiaScores{}},
		{name: "empty file", data: "", wantErr: "f.csv: empty file"},
		{name: "missing column", data: strings.Replace(brixiaHeader, ",J-E", "", 1) + "\na,0,0,0,0,0,0,0,0,0,0,0,0,0\n",
			wantErr: `f.csv: no column "J-E"`},
		{name: "zone above 3", data: brixiaHeader + "\r\na.jpg,0,0,0,0,0,0,0,0,4,0,0,0,0,4\r\n",
			wantErr: `f.csv:2: a.jpg: J-B = "4", want a zone score 0-3`},
		{name: "negative zone", data: brixiaHeader + "\na.jpg,-1,0,0,0,0,0,-1,0,0,0,0,0,0,0\n",
			wantErr: `f.csv:2: a.jpg: S-A = "-1"`},
		{name: "fractional zone", data: brixiaHeader + "\na.jpg,1.5,0,0,0,0,0,1,0,0,0,0,0,0,0\n",
			wantErr: `f.csv:2: a.jpg: S-A = "1.5"`},
		{name: "empty zone", data: brixiaHeader + "\na.jpg,0,0,,0,0,0,0,0,0,0,0,0,0,0\n",
			wantErr: `f.csv:2: a.jpg: S-C = ""`},
		{name: "global not the sum", data: brixiaHeader + "\r\n" +
			"a.jpg,0,0,0,0,0,0,0,0,0,0,0,0,0,0\r\n" +
			"b.jpg,1,1,1,0,0,0,4,0,0,0,0,0,0,0\r\n",
			wantErr: "f.csv:3: b.jpg: S-Global = 4, but the zones ABCDEF sum to 3"},
		{name: "global not a number", data: brixiaHeader + "\na.jpg,0,0,0,0,0,0,0,0,0,0,0,0,0,x\n",
			wantErr: `f.csv:2: a.jpg: J-Global = "x" is not a whole number`},
		{name: "empty filename", data: brixiaHeader + "\n ,0,0,0,0,0,0,0,0,0,0,0,0,0,0\n",
			wantErr: "f.csv:2: empty filename"},
		{name: "duplicate stem", data: brixiaHeader + "\r\n" +
			"a.jpg,0,0,0,0,0,0,0,0,0,0,0,0,0,0\r\n" +
			"a.png,0,0,0,0,0,0,0,0,0,0,0,0,0,0\r\n",
			wantErr: "f.csv:3: a.png: a second row for a (first: a.jpg)"},
		{name: "short row", data: brixiaHeader + "\na.jpg,0,0\n",
			wantErr: "f.csv:2: 3 fields, the header has 15"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := parseBrixia("f.csv", strings.NewReader(tt.data))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("%d rows, want %d: %+v", len(got), len(tt.want), got)
			}
			for k, w := range tt.want {
				if got[k] != w {
					t.Errorf("%s: got %+v, want %+v", k, got[k], w)
				}
			}
		})
	}
}

func TestReadBrixiaFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, BrixiaFile)
	if err := os.WriteFile(path, []byte(brixiaHeader+"\r\na.jpg,0,0,0,0,0,1,1,0,0,0,0,0,0,0\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := ReadBrixia(path)
	if err != nil || len(got) != 1 || got["a"].S.Global != 1 {
		t.Errorf("got %+v, %v", got, err)
	}
	if _, err := ReadBrixia(filepath.Join(dir, "missing.csv")); err == nil || !strings.Contains(err.Error(), "missing.csv") {
		t.Errorf("error %v, want one naming missing.csv", err)
	}
}

// FuzzReadBrixia feeds arbitrary bytes to the Brixia reader: it must not
// panic, its errors must name the file, and what it accepts must hold
// zone scores 0-3 summing to Global.
func FuzzReadBrixia(f *testing.F) {
	f.Add("\uFEFF" + brixiaHeader + "\r\na.jpeg,1,2,3,0,1,2,9,0,0,0,0,0,1,1\r\n")
	f.Add(brixiaHeader + "\na.jpg,0,0,0,0,0,0,0,0,0,0,0,0,0,0\na.png,0,0,0,0,0,0,0,0,0,0,0,0,0,0\n")
	f.Add(brixiaHeader + "\n\"a\nb.jpg\",3,3,3,3,3,3,18,0,0,0,0,0,0,1\n")
	f.Add("filename,S-A\n.,1\n")
	f.Fuzz(func(t *testing.T, data string) {
		got, err := parseBrixia("f.csv", strings.NewReader(data))
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.csv") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		for stem, s := range got {
			if s.File == "" || fileStem(s.File) != stem {
				t.Fatalf("stem %q for file %q", stem, s.File)
			}
			for _, b := range []BrixiaScore{s.S, s.J} {
				sum := 0
				for _, z := range b.Zones {
					if z < 0 || z > 3 {
						t.Fatalf("%s: zone score %d", stem, z)
					}
					sum += z
				}
				if sum != b.Global {
					t.Fatalf("%s: Global %d, zones sum to %d", stem, b.Global, sum)
				}
			}
		}
	})
}

// TestReadBrixiaRealData reads the published file of the real data (skipped
// without it) and checks its numbers: 192 images, the two radiologists 1.94 points of
// Global apart on average and 0.41 per zone.
func TestReadBrixiaRealData(t *testing.T) {
	path := filepath.Join(fixture.RealDataDir(t), BrixiaDir, BrixiaFile)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("%s not found: skipping", path)
	}
	scores, err := ReadBrixia(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(scores) != 192 {
		t.Errorf("%d images, want 192", len(scores))
	}
	var global, zone float64
	for _, s := range scores {
		global += math.Abs(float64(s.S.Global - s.J.Global))
		for z := range 6 {
			zone += math.Abs(float64(s.S.Zones[z] - s.J.Zones[z]))
		}
	}
	n := float64(len(scores))
	global /= n
	zone /= 6 * n
	if math.Abs(global-1.94) > 0.005 {
		t.Errorf("mean |S-Global - J-Global| = %.4f, want 1.94", global)
	}
	if math.Abs(zone-0.41) > 0.005 {
		t.Errorf("mean |S zone - J zone| = %.4f, want 0.41", zone)
	}
}
