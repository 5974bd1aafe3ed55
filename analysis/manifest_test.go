package analysis

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// manifestFolder writes a small fake models folder in a new temporary
// directory and returns it with its files' contents by slash path.
func manifestFolder(t testing.TB) (string, map[string][]byte) {
	t.Helper()
	ckpt := make([]byte, 300_000)
	for i := range ckpt {
		ckpt[i] = byte(i * 7)
	}
	files := map[string][]byte{
		ModelsFile:                      []byte(`{"format": 1}` + "\n"),
		"lungs/run.json":                []byte(`{"name": "lungs"}`),
		"lungs/checkpoints/best.ckpt":   ckpt,
		"opacity/run.json":              []byte(`{"name": "opacity"}`),
		"opacity/checkpoints/best.ckpt": ckpt[:1000],
		"opacity/empty":                 nil,
	}
	dir := t.TempDir()
	for p, b := range files {
		writeTestFile(t, filepath.Join(dir, filepath.FromSlash(p)), b)
	}
	return dir, files
}

func writeTestFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestManifestWriteVerify(t *testing.T) {
	dir, files := manifestFolder(t)
	// A leftover of an interrupted atomic write is not listed nor extra.
	writeTestFile(t, filepath.Join(dir, "lungs", ".run.json.tmp-123456"), []byte("partial"))
	prov := map[string]any{"data": "data/", "commit": "abc123", "images": 21}
	m, err := WriteManifest(dir, prov)
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, f := range m.Files {
		paths = append(paths, f.Path)
		sum := sha256.Sum256(files[f.Path])
		if f.Size != int64(len(files[f.Path])) || f.SHA256 != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: size %d sha256 %s, want %d %x", f.Path, f.Size, f.SHA256, len(files[f.Path]), sum)
		}
	}
	want := []string{"lungs/checkpoints/best.ckpt", "lungs/run.json", ModelsFile, "opacity/checkpoints/best.ckpt", "opacity/empty", "opacity/run.json"}
	if !slices.Equal(paths, want) {
		t.Errorf("files %q, want %q", paths, want)
	}
	if m.Format != ManifestFormat || m.Created.IsZero() {
		t.Errorf("format %d created %v", m.Format, m.Created)
	}
	raw, err := os.ReadFile(filepath.Join(dir, ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(raw), dir) {
		t.Errorf("manifest.json holds the folder's path %s:\n%s", dir, raw)
	}

	got, err := VerifyManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got.Files, m.Files) || !got.Created.Equal(m.Created) {
		t.Errorf("read back %+v, wrote %+v", got, m)
	}
	var p map[string]any
	if err := json.Unmarshal(got.Provenance, &p); err != nil || p["commit"] != "abc123" || p["images"] != 21.0 {
		t.Errorf("provenance %s (%v)", got.Provenance, err)
	}

	// Rewriting replaces the manifest (it does not list itself); no
	// provenance is none.
	m2, err := WriteManifest(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(m2.Files) != len(m.Files) || m2.Provenance != nil {
		t.Errorf("rewritten: %d files, provenance %s", len(m2.Files), m2.Provenance)
	}
	if _, err := VerifyManifest(dir); err != nil {
		t.Fatal(err)
	}
}

func TestManifestCopiedFolder(t *testing.T) {
	dir, _ := manifestFolder(t)
	if _, err := WriteManifest(dir, map[string]string{"data": dir}); err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if err := os.CopyFS(dst, os.DirFS(dir)); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyManifest(dst); err != nil {
		t.Fatal(err)
	}
	// The original may now change without touching the copy.
	if err := os.Remove(filepath.Join(dir, ModelsFile)); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyManifest(dst); err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyManifest(dir); err == nil {
		t.Fatal("original verifies without models.json")
	}
}

// rewriteManifest edits dir's manifest.json with edit.
func rewriteManifest(t *testing.T, dir string, edit func(m map[string]any)) {
	t.Helper()
	path := filepath.Join(dir, ManifestFile)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	edit(m)
	if b, err = json.Marshal(m); err != nil {
		t.Fatal(err)
	}
	writeTestFile(t, path, b)
}

// listFile adds a file entry to the manifest.
func listFile(path string) func(m map[string]any) {
	return func(m map[string]any) {
		sum := sha256.Sum256([]byte("x"))
		m["files"] = append(m["files"].([]any), map[string]any{"path": path, "size": 1, "sha256": hex.EncodeToString(sum[:])})
	}
}

func TestManifestDamage(t *testing.T) {
	symlinks := runtime.GOOS != "windows"
	type damage struct {
		name   string
		damage func(t *testing.T, dir string)
		// For a *ManifestError, the paths it must list.
		missing, altered, extra []string
		// Otherwise (or besides), what the error must say.
		says []string
		is   error
	}
	tests := []damage{
		{
			name: "file removed",
			damage: func(t *testing.T, dir string) {
				must(t, os.Remove(filepath.Join(dir, "lungs", "checkpoints", "best.ckpt")))
			},
			missing: []string{"lungs/checkpoints/best.ckpt"},
			says:    []string{"missing: lungs/checkpoints/best.ckpt"},
		},
		{
			name: "byte changed",
			damage: func(t *testing.T, dir string) {
				path := filepath.Join(dir, "lungs", "checkpoints", "best.ckpt")
				b, err := os.ReadFile(path)
				must(t, err)
				b[len(b)/2]++
				writeTestFile(t, path, b)
			},
			altered: []string{"lungs/checkpoints/best.ckpt"},
			says:    []string{"altered: lungs/checkpoints/best.ckpt (sha256 ", ", manifest says "},
		},
		{
			name:    "file truncated",
			damage:  func(t *testing.T, dir string) { must(t, os.Truncate(filepath.Join(dir, ModelsFile), 3)) },
			altered: []string{ModelsFile},
			says:    []string{"altered: models.json (size 3, manifest says 14)"},
		},
		{
			name:   "extra file at the top",
			damage: func(t *testing.T, dir string) { writeTestFile(t, filepath.Join(dir, "notes.txt"), []byte("hi")) },
			extra:  []string{"notes.txt"},
			says:   []string{"extra: notes.txt"},
		},
		{
			name: "extra file in a subfolder",
			damage: func(t *testing.T, dir string) {
				writeTestFile(t, filepath.Join(dir, "opacity", "checkpoints", "old", "epoch1.ckpt"), []byte("old"))
			},
			extra: []string{"opacity/checkpoints/old/epoch1.ckpt"},
			says:  []string{"extra: opacity/checkpoints/old/epoch1.ckpt"},
		},
		{
			name: "every problem at once",
			damage: func(t *testing.T, dir string) {
				must(t, os.Remove(filepath.Join(dir, "opacity", "run.json")))
				must(t, os.Remove(filepath.Join(dir, "lungs", "run.json")))
				must(t, os.WriteFile(filepath.Join(dir, "opacity", "empty"), []byte("x"), 0o644))
				writeTestFile(t, filepath.Join(dir, "a"), nil)
				writeTestFile(t, filepath.Join(dir, "lungs", "b"), nil)
			},
			missing: []string{"lungs/run.json", "opacity/run.json"},
			altered: []string{"opacity/empty"},
			extra:   []string{"a", "lungs/b"},
			says:    []string{"(5 problems)"},
		},
		{
			name:   "manifest.json missing",
			damage: func(t *testing.T, dir string) { must(t, os.Remove(filepath.Join(dir, ManifestFile))) },
			is:     ErrNoManifest,
			says:   []string{"has no manifest.json", "opacity models"},
		},
		{
			name: "manifest.json corrupt",
			damage: func(t *testing.T, dir string) {
				writeTestFile(t, filepath.Join(dir, ManifestFile), []byte(`{"format": 1, "files": [`))
			},
			says: []string{ManifestFile, "not a valid manifest"},
		},
		{
			name:   "manifest of another format",
			damage: func(t *testing.T, dir string) { rewriteManifest(t, dir, func(m map[string]any) { m["format"] = 2 }) },
			says:   []string{"format 2"},
		},
		{
			name:   "manifest lists ../x",
			damage: func(t *testing.T, dir string) { rewriteManifest(t, dir, listFile("../x")) },
			says:   []string{`"../x"`, "invalid manifest"},
		},
		{
			name:   "manifest lists /etc/passwd",
			damage: func(t *testing.T, dir string) { rewriteManifest(t, dir, listFile("/etc/passwd")) },
			says:   []string{`"/etc/passwd"`},
		},
		{
			name:   "manifest lists lungs/../../x",
			damage: func(t *testing.T, dir string) { rewriteManifest(t, dir, listFile("lungs/../../x")) },
			says:   []string{`"lungs/../../x"`},
		},
		{
			name: "manifest lists unclean paths",
			damage: func(t *testing.T, dir string) {
				for _, p := range []string{"lungs//run.json", "./models.json", "lungs/", "", ".", `lungs\run.json`, ManifestFile} {
					rewriteManifest(t, dir, listFile(p))
				}
			},
			says: []string{`"lungs//run.json"`, `"./models.json"`, `"lungs/"`, `path ""`, `path "."`, `"lungs\\run.json"`, `"manifest.json"`},
		},
		{
			name: "manifest lists a file twice",
			damage: func(t *testing.T, dir string) {
				rewriteManifest(t, dir, func(m map[string]any) {
					f := m["files"].([]any)
					m["files"] = append(f, f[0])
				})
			},
			says: []string{"listed twice"},
		},
	}
	if symlinks {
		tests = append(tests, []damage{
			{
				name: "symlink added",
				damage: func(t *testing.T, dir string) {
					must(t, os.Symlink("/etc/passwd", filepath.Join(dir, "lungs", "link")))
				},
				extra: []string{"lungs/link"},
				says:  []string{"extra: lungs/link (symbolic link)"},
			},
			{
				name: "listed file replaced by a symlink",
				damage: func(t *testing.T, dir string) {
					path := filepath.Join(dir, "opacity", "run.json")
					must(t, os.Rename(path, filepath.Join(dir, "opacity", "elsewhere.json")))
					must(t, os.Symlink("elsewhere.json", path))
				},
				altered: []string{"opacity/run.json"},
				extra:   []string{"opacity/elsewhere.json"},
				says:    []string{"altered: opacity/run.json (a symbolic link, not a regular file)"},
			},
			{
				name: "subfolder replaced by a symlink",
				damage: func(t *testing.T, dir string) {
					must(t, os.Rename(filepath.Join(dir, "lungs"), filepath.Join(dir, "lungs2")))
					must(t, os.Symlink("lungs2", filepath.Join(dir, "lungs")))
				},
				missing: []string{"lungs/checkpoints/best.ckpt", "lungs/run.json"},
				extra:   []string{"lungs", "lungs2/checkpoints/best.ckpt", "lungs2/run.json"},
			},
		}...)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir, _ := manifestFolder(t)
			if _, err := WriteManifest(dir, nil); err != nil {
				t.Fatal(err)
			}
			tt.damage(t, dir)
			_, err := VerifyManifest(dir)
			if err == nil {
				t.Fatal("verified")
			}
			t.Log(err)
			var merr *ManifestError
			if tt.missing != nil || tt.altered != nil || tt.extra != nil {
				if !errors.As(err, &merr) {
					t.Fatalf("not a *ManifestError: %T %v", err, err)
				}
				if !slices.Equal(merr.Missing, tt.missing) || !slices.Equal(merr.Altered, tt.altered) || !slices.Equal(merr.Extra, tt.extra) {
					t.Errorf("missing %q altered %q extra %q, want %q %q %q", merr.Missing, merr.Altered, merr.Extra, tt.missing, tt.altered, tt.extra)
				}
				if !strings.Contains(err.Error(), dir) {
					t.Errorf("error does not name the folder %s", dir)
				}
				for _, p := range slices.Concat(merr.Missing, merr.Altered, merr.Extra) {
					if !strings.Contains(err.Error(), p) {
						t.Errorf("error does not name %s", p)
					}
				}
			} else if errors.As(err, &merr) {
				t.Errorf("a *ManifestError: %v", err)
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Errorf("not %v: %v", tt.is, err)
			}
			for _, s := range tt.says {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("error does not say %q", s)
				}
			}
		})
	}
}

func TestWriteManifestRefusesNonRegular(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("symbolic links")
	}
	dir, _ := manifestFolder(t)
	must(t, os.Symlink("best.ckpt", filepath.Join(dir, "lungs", "checkpoints", "last.ckpt")))
	must(t, os.Symlink("lungs", filepath.Join(dir, "lungs-link")))
	_, err := WriteManifest(dir, nil)
	if err == nil {
		t.Fatal("wrote a manifest over symbolic links")
	}
	for _, s := range []string{"lungs/checkpoints/last.ckpt (symbolic link)", "lungs-link (symbolic link)", dir} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not say %q", err, s)
		}
	}
	if _, err := os.Lstat(filepath.Join(dir, ManifestFile)); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("manifest.json written: %v", err)
	}
	if _, err := WriteManifest(filepath.Join(dir, "nowhere"), nil); err == nil {
		t.Error("wrote a manifest for a folder that does not exist")
	}
	if _, err := WriteManifest(dir, func() {}); err == nil {
		t.Error("wrote a manifest with provenance that is not JSON")
	}
}

func TestAtomicTemp(t *testing.T) {
	for name, want := range map[string]bool{
		".models.json.tmp-123": true,
		".a.tmp-0":             true,
		".tmp-1":               false,
		".a.tmp-":              false,
		".a.tmp-12x":           false,
		"a.tmp-12":             false,
		"models.json":          false,
	} {
		if got := atomicTemp(name); got != want {
			t.Errorf("atomicTemp(%q) = %v", name, got)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// FuzzVerifyManifest feeds arbitrary manifest.json bytes to VerifyManifest
// on a folder next to a secret file: it must not panic, and must neither
// verify nor name a file outside the folder.
func FuzzVerifyManifest(f *testing.F) {
	secret := []byte("secret\n")
	sum := sha256.Sum256(secret)
	secretSum := hex.EncodeToString(sum[:])
	sum = sha256.Sum256([]byte("a"))
	aSum := hex.EncodeToString(sum[:])
	entry := func(p, sha string, size int) string {
		b, _ := json.Marshal(ManifestEntry{Path: p, Size: int64(size), SHA256: sha})
		return string(b)
	}
	for _, files := range [][]string{
		{entry("a.txt", aSum, 1)},
		{entry("a.txt", aSum, 1), entry("sub/b.txt", aSum, 1)},
		{entry("a.txt", aSum, 1), entry("../secret.txt", secretSum, len(secret))},
		{entry("/secret.txt", secretSum, len(secret))},
		{entry("sub/../../secret.txt", secretSum, len(secret))},
		{entry("up/secret.txt", secretSum, len(secret))},
		{entry("a.txt", aSum, -1)},
		{entry("a.txt", "zz", 1)},
	} {
		f.Add([]byte(`{"format": 1, "files": [` + strings.Join(files, ",") + `]}`))
	}
	f.Add([]byte(`{"format": 1, "files": null, "provenance": [1, 2]}`))
	f.Add([]byte(`{"format": 1, "created": "x"}`))
	f.Add([]byte(`[]`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, manifest []byte) {
		parent := t.TempDir()
		writeTestFile(t, filepath.Join(parent, "secret.txt"), secret)
		dir := filepath.Join(parent, "m")
		writeTestFile(t, filepath.Join(dir, "a.txt"), []byte("a"))
		writeTestFile(t, filepath.Join(dir, ManifestFile), manifest)
		if runtime.GOOS != "windows" {
			must(t, os.Symlink("..", filepath.Join(dir, "up")))
		}
		m, err := VerifyManifest(dir)
		if err == nil {
			// Only a.txt is in the folder (up is a symbolic link, an extra).
			if len(m.Files) != 1 || m.Files[0].Path != "a.txt" {
				t.Fatalf("verified %+v", m.Files)
			}
			return
		}
		var merr *ManifestError
		if errors.As(err, &merr) {
			for _, p := range slices.Concat(merr.Missing, merr.Altered, merr.Extra) {
				if !fs.ValidPath(p) {
					t.Fatalf("names %q, not a path inside the folder: %v", p, err)
				}
			}
			// Only files walked in the folder (not through the link) are read.
			for _, p := range merr.Altered {
				if p != "a.txt" {
					t.Fatalf("read %q: %v", p, err)
				}
			}
			for _, p := range merr.Extra {
				if p != "a.txt" && p != "up" {
					t.Fatalf("extra %q: %v", p, err)
				}
			}
		}
	})
}
