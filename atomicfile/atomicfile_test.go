package atomicfile

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.txt")
	for _, content := range []string{"first version", "second"} {
		if err := WriteFile(path, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != content {
			t.Errorf("content %q, want %q", got, content)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("perm %v, want 0644", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d entries in dir, want only a.txt (no temporary files left)", len(entries))
	}
}

func TestWriteFileMissingDir(t *testing.T) {
	path := filepath.Join(t.TempDir(), "no", "such", "dir", "a.txt")
	err := WriteFile(path, []byte("x"), 0o644)
	if err == nil {
		t.Fatal("want an error for a missing directory")
	}
}

func TestWriteJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.json")
	v := struct {
		Name string `json:"name"`
		N    []int  `json:"n"`
	}{"x", []int{1, 2}}
	if err := WriteJSON(path, v, 0o644); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := "{\n  \"name\": \"x\",\n  \"n\": [\n    1,\n    2\n  ]\n}\n"
	if string(got) != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
	err = WriteJSON(path, func() {}, 0o644)
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("a value JSON cannot encode: error %v, want one naming %s", err, path)
	}
	if got2, _ := os.ReadFile(path); string(got2) != want {
		t.Errorf("a failed write changed the file to %q", got2)
	}
}
