package datasets

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFindImageBeside(t *testing.T) {
	dir := t.TempDir()
	write := func(p string) string {
		p = filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	jpeg := write("cohen/images/a.jpeg")
	upper := write("cohen/images/b.PNG")
	same := write("cohen/annotations/c.jpg")
	exact := write("cohen/annotations/sub/d.png")
	own := write("cohen/images/e.jpg")
	write("cohen/images/f.txt")
	ann := func(name string) string { return filepath.Join(dir, "cohen", "annotations", name) }
	tests := []struct {
		name, ann, imagePath, want string
	}{
		{".jpg in imagePath, .jpeg on disk, in ../images", ann("a.json"), "a.jpg", jpeg},
		{"upper-case extension", ann("b.json"), "b.png", upper},
		{"same folder", ann("c.json"), "c.jpeg", same},
		{"imagePath as written, Windows separators", ann("d.json"), `sub\d.png`, exact},
		{"annotation's own stem when imagePath differs", ann("e.json"), "other.jpg", own},
		{"empty imagePath, own stem", ann("e.json"), "", own},
		{"not an image extension", ann("f.json"), "f.txt", ""},
		{"missing", ann("g.json"), "g.jpg", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := FindImageBeside(tt.ann, tt.imagePath)
			if ok != (tt.want != "") || filepath.Clean(got) != filepath.Clean(tt.want) {
				t.Errorf("got %q, %v; want %q", got, ok, tt.want)
			}
		})
	}
}
