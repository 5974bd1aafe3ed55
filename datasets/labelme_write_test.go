package datasets

import (
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLabelmeEncodeLayout(t *testing.T) {
	l := NewLabelme("cxr.png", 4, 3)
	l.AddPolygons(LabelRightLung, [][][2]float64{
		{{0.5, 0}, {1.04, 2.26}, {0.5, 1}},
		{{1, 1}, {2, 2}}, // too short: skipped
	})
	l.AddPolygons(LabelOpacityAny, [][][2]float64{{{3, 0}, {3.96, 0.5}, {3.5, 1}}})
	got, err := l.Encode()
	if err != nil {
		t.Fatal(err)
	}
	// The layout labelme 4.5.6 writes (json.dump, indent=2), numbers aside:
	// labelme writes 1.0 where Go writes 1.
	want := `{
  "version": "4.5.6",
  "flags": {},
  "shapes": [
    {
      "label": "right_lung",
      "points": [
        [
          0.5,
          0
        ],
        [
          1,
          2.3
        ],
        [
          0.5,
          1
        ]
      ],
      "group_id": null,
      "shape_type": "polygon",
      "flags": {}
    },
    {
      "label": "opacity",
      "points": [
        [
          3,
          0
        ],
        [
          4,
          0.5
        ],
        [
          3.5,
          1
        ]
      ],
      "group_id": null,
      "shape_type": "polygon",
      "flags": {}
    }
  ],
  "imagePath": "cxr.png",
  "imageData": null,
  "imageHeight": 3,
  "imageWidth": 4
}
`
	if string(got) != want {
		t.Errorf("Encode =\n%s\nwant\n%s", got, want)
	}
	back, err := ParseLabelme("encoded", got)
	if err != nil {
		t.Fatal(err)
	}
	if back.Version != LabelmeWriteVersion || len(back.Shapes) != 2 || back.ImageWidth != 4 || back.ImageHeight != 3 || back.ImageData != nil {
		t.Errorf("parsed back %+v", back)
	}
}

func TestLabelmeEncode(t *testing.T) {
	tri := [][2]float64{{0, 0}, {2, 0}, {0, 2}}
	tests := []struct {
		name    string
		l       *Labelme
		wantErr string // "" for success
		want    []string
	}{
		{
			name: "empty annotation",
			l:    NewLabelme("a.jpg", 10, 20),
			want: []string{`"shapes": []`, `"flags": {}`, `"imageData": null`, `"imageHeight": 20`, `"imageWidth": 10`},
		},
		{
			name: "nil flags and shapes written as {} and []",
			l:    &Labelme{Version: "4.5.6", ImagePath: "a.jpg", Shapes: []Shape{{Label: "opacity", Points: tri, ShapeType: ShapePolygon}}},
			want: []string{`"flags": {}` + "\n    }", `"flags": {},` + "\n  \"shapes\"", `"group_id": null`},
		},
		{
			name: "no shapes at all",
			l:    &Labelme{Version: "4.5.6", ImagePath: "a.jpg"},
			want: []string{`"shapes": []`},
		},
		{name: "nil", l: nil, wantErr: "no labelme annotation"},
		{name: "negative size", l: NewLabelme("a.jpg", -1, 5), wantErr: "negative image size"},
		{
			name:    "empty label",
			l:       &Labelme{Shapes: []Shape{{Label: "", Points: tri, ShapeType: ShapePolygon}}},
			wantErr: "shape 0 (\"\"): empty label",
		},
		{
			name:    "two-point polygon",
			l:       &Labelme{Shapes: []Shape{{Label: "opacity", Points: tri[:2], ShapeType: ShapePolygon}}},
			wantErr: "needs at least 3 points",
		},
		{
			name:    "non-finite point",
			l:       &Labelme{Shapes: []Shape{{Label: "opacity", Points: [][2]float64{{0, 0}, {math.NaN(), 1}, {1, 1}}, ShapeType: ShapePolygon}}},
			wantErr: "not finite",
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.l.Encode()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(got), w) {
					t.Errorf("missing %q in\n%s", w, got)
				}
			}
			if _, err := ParseLabelme("encoded", got); err != nil {
				t.Errorf("does not parse back: %v", err)
			}
		})
	}
	// Encode does not change the annotation it encodes.
	l := &Labelme{ImagePath: "a.jpg", Shapes: []Shape{{Label: "opacity", Points: tri, ShapeType: ShapePolygon}}}
	if _, err := l.Encode(); err != nil {
		t.Fatal(err)
	}
	if l.Flags != nil || l.Shapes[0].Flags != nil {
		t.Error("Encode changed its receiver")
	}
}

func TestWriteLabelmeErrors(t *testing.T) {
	dir := t.TempDir()
	bad := &Labelme{Shapes: []Shape{{Label: "", Points: [][2]float64{{0, 0}, {1, 0}, {0, 1}}}}}
	path := filepath.Join(dir, "bad.json")
	if err := WriteLabelme(path, bad); err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("error %v, want one naming %s", err, path)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("a file was written for a bad annotation: %v", err)
	}
	if err := WriteLabelme(filepath.Join(dir, "missing", "x.json"), NewLabelme("x.png", 2, 2)); err == nil {
		t.Error("no error writing into a missing folder")
	}
}
