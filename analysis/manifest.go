package analysis

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/covidxray/opacity/atomicfile"
)

// Manifest files.
const (
	// ManifestFile is the manifest's name at the top of the folder it
	// describes.
	ManifestFile = "manifest.json"
	// ManifestFormat is the Format that WriteManifest writes and
	// VerifyManifest reads.
	ManifestFormat = 1
)

// ErrNoManifest is wrapped by VerifyManifest's error when the folder has no
// manifest.json (errors.Is tells it apart from a folder that does not match
// its manifest).
var ErrNoManifest = errors.New("no " + ManifestFile)

// Manifest is the content of a folder's manifest.json: every file of the
// folder with its size and SHA-256, and how the folder was made.
type Manifest struct {
	Format  int       `json:"format"`
	Created time.Time `json:"created"`
	// Files are the folder's regular files (all but manifest.json and the
	// atomic writer's leftover temporary files), sorted by Path.
	Files []ManifestEntry `json:"files"`
	// Provenance is how the folder was made, as the caller of
	// WriteManifest gave it (data, commit, settings, validation figures);
	// the manifest only carries it. Absent when the caller gave none.
	Provenance json.RawMessage `json:"provenance,omitempty"`
}

// ManifestEntry is one file of a Manifest.
type ManifestEntry struct {
	// Path is relative to the folder, slash-separated and clean.
	Path string `json:"path"`
	Size int64  `json:"size"`
	// SHA256 is the hex SHA-256 of the file's content.
	SHA256 string `json:"sha256"`
}

// ManifestError is VerifyManifest's error when a folder's files do not
// match its manifest. Each list holds slash-separated paths relative to
// the folder, sorted.
type ManifestError struct {
	Dir string
	// Missing are listed files that are absent.
	Missing []string
	// Altered are listed files whose size or content differs, or that are
	// no longer regular files (or could not be read); Why says how, by path.
	Altered []string
	Why     map[string]string
	// Extra are files present but not listed (a non-regular one is noted
	// as such in Error).
	Extra []string
	// extraWhy notes non-regular extras, by path.
	extraWhy map[string]string
}

// Error names the folder and every problem, one a line.
func (e *ManifestError) Error() string {
	var b strings.Builder
	n := len(e.Missing) + len(e.Altered) + len(e.Extra)
	fmt.Fprintf(&b, "folder %s does not match its %s (%d problem%s):", e.Dir, ManifestFile, n, plural(n))
	for _, p := range e.Missing {
		fmt.Fprintf(&b, "\n\tmissing: %s", p)
	}
	for _, p := range e.Altered {
		fmt.Fprintf(&b, "\n\taltered: %s", p)
		if why := e.Why[p]; why != "" {
			fmt.Fprintf(&b, " (%s)", why)
		}
	}
	for _, p := range e.Extra {
		fmt.Fprintf(&b, "\n\textra: %s", p)
		if why := e.extraWhy[p]; why != "" {
			fmt.Fprintf(&b, " (%s)", why)
		}
	}
	return b.String()
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// WriteManifest lists every regular file under dir (recursively; not
// manifest.json itself nor the atomic writer's leftover temporary files)
// with its size and SHA-256, and writes the list with provenance (marshalled
// to JSON; nil for none) to dir/manifest.json atomically. A symbolic link
// or other non-regular file under dir is an error naming it: the folder
// must be copyable as it is.
func WriteManifest(dir string, provenance any) (*Manifest, error) {
	var prov json.RawMessage
	if provenance != nil {
		b, err := json.Marshal(provenance)
		if err != nil {
			return nil, fmt.Errorf("%s: provenance: %w", filepath.Join(dir, ManifestFile), err)
		}
		if string(b) != "null" {
			prov = b
		}
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	tree, err := scanTree(root, dir)
	if err != nil {
		return nil, err
	}
	var paths, odd []string
	for p, kind := range tree {
		switch kind {
		case "":
			paths = append(paths, p)
		case kindDir:
		default:
			odd = append(odd, fmt.Sprintf("%s (%s)", p, kind))
		}
	}
	if len(odd) > 0 {
		sort.Strings(odd)
		return nil, fmt.Errorf("folder %s has files that are not regular files (the folder must be copyable as it is): %s", dir, strings.Join(odd, ", "))
	}
	sort.Strings(paths)
	sums := hashFiles(root, paths)
	m := &Manifest{
		Format:     ManifestFormat,
		Created:    time.Now().UTC().Truncate(time.Second),
		Files:      make([]ManifestEntry, len(paths)),
		Provenance: prov,
	}
	for i, p := range paths {
		if sums[i].err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Join(dir, filepath.FromSlash(p)), sums[i].err)
		}
		m.Files[i] = ManifestEntry{Path: p, Size: sums[i].size, SHA256: sums[i].sha}
	}
	if err := atomicfile.WriteJSON(filepath.Join(dir, ManifestFile), m, 0o644); err != nil {
		return nil, err
	}
	return m, nil
}

// VerifyManifest reads dir/manifest.json and checks that every file it
// lists is present with its size and SHA-256, and that no other file is
// (besides manifest.json and the atomic writer's leftover temporary
// files). A folder without a manifest is an error wrapping ErrNoManifest;
// an unreadable or invalid manifest (bad JSON, another format, a path that
// is absolute, contains a ".." element, is not clean or is listed twice) is
// an error naming what is wrong, and no file is read; a folder that does not
// match is a *ManifestError listing every problem, returned with the
// manifest (its provenance may say how to remake the folder). Files are only
// ever read inside dir.
func VerifyManifest(dir string) (*Manifest, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	mpath := filepath.Join(dir, ManifestFile)
	fi, err := root.Lstat(ManifestFile)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("folder %s has %w: make the models with `opacity models`, which writes one", dir, ErrNoManifest)
	}
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is a %s, not a regular file", mpath, fileKind(fi.Mode()))
	}
	b, err := root.ReadFile(ManifestFile)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, fmt.Errorf("%s: not a valid manifest: %w", mpath, err)
	}
	if m.Format != ManifestFormat {
		return nil, fmt.Errorf("%s: format %d, this version reads format %d", mpath, m.Format, ManifestFormat)
	}
	if err := checkEntries(m.Files); err != nil {
		return nil, fmt.Errorf("%s: %w", mpath, err)
	}

	tree, err := scanTree(root, dir)
	if err != nil {
		return nil, err
	}
	merr := &ManifestError{Dir: dir, Why: map[string]string{}, extraWhy: map[string]string{}}
	listed := make(map[string]bool, len(m.Files))
	var hash []string
	want := map[string]ManifestEntry{}
	for _, f := range m.Files {
		listed[f.Path] = true
		kind, ok := tree[f.Path]
		switch {
		case !ok:
			merr.Missing = append(merr.Missing, f.Path)
		case kind != "":
			merr.Altered = append(merr.Altered, f.Path)
			merr.Why[f.Path] = "a " + kind + ", not a regular file"
		default:
			hash = append(hash, f.Path)
			want[f.Path] = f
		}
	}
	for p, kind := range tree {
		if listed[p] || kind == kindDir {
			continue
		}
		merr.Extra = append(merr.Extra, p)
		if kind != "" {
			merr.extraWhy[p] = kind
		}
	}
	// Sizes first: a file of another size is altered without hashing it.
	var sized []string
	for _, p := range hash {
		fi, err := root.Lstat(filepath.FromSlash(p))
		switch {
		case err != nil:
			merr.Altered = append(merr.Altered, p)
			merr.Why[p] = "cannot read: " + err.Error()
		case fi.Size() != want[p].Size:
			merr.Altered = append(merr.Altered, p)
			merr.Why[p] = fmt.Sprintf("size %d, manifest says %d", fi.Size(), want[p].Size)
		default:
			sized = append(sized, p)
		}
	}
	sums := hashFiles(root, sized)
	for i, p := range sized {
		s, w := sums[i], want[p]
		switch {
		case s.err != nil:
			merr.Altered = append(merr.Altered, p)
			merr.Why[p] = "cannot read: " + s.err.Error()
		case s.size != w.Size:
			merr.Altered = append(merr.Altered, p)
			merr.Why[p] = fmt.Sprintf("size %d, manifest says %d", s.size, w.Size)
		case s.sha != w.SHA256:
			merr.Altered = append(merr.Altered, p)
			merr.Why[p] = fmt.Sprintf("sha256 %s…, manifest says %s…", s.sha[:12], w.SHA256[:12])
		}
	}
	if len(merr.Missing)+len(merr.Altered)+len(merr.Extra) > 0 {
		sort.Strings(merr.Missing)
		sort.Strings(merr.Altered)
		sort.Strings(merr.Extra)
		return &m, merr
	}
	return &m, nil
}

// checkEntries reports every entry of a manifest that is not a clean
// relative slash path inside the folder, is listed twice, or has a bad size
// or hash.
func checkEntries(files []ManifestEntry) error {
	var bad []string
	seen := make(map[string]bool, len(files))
	for i, f := range files {
		var why string
		switch {
		case f.Path == ManifestFile:
			why = "is the manifest itself"
		case !validManifestPath(f.Path):
			why = "is not a clean relative path inside the folder"
		case seen[f.Path]:
			why = "is listed twice"
		case f.Size < 0:
			why = fmt.Sprintf("has size %d", f.Size)
		case !validSHA256(f.SHA256):
			why = fmt.Sprintf("has sha256 %q, not 64 lowercase hex digits", f.SHA256)
		}
		seen[f.Path] = true
		if why != "" {
			bad = append(bad, fmt.Sprintf("file %d: path %q %s", i+1, f.Path, why))
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("invalid manifest: %s", strings.Join(bad, "; "))
	}
	return nil
}

// validManifestPath reports whether p is a clean, relative, slash-separated
// path naming a file below the folder (not the folder, not manifest.json).
func validManifestPath(p string) bool {
	return p != "." && p != ManifestFile && fs.ValidPath(p) && path.Clean(p) == p &&
		!strings.ContainsAny(p, `\:`+"\x00")
}

func validSHA256(s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// kindDir marks directories in scanTree's result.
const kindDir = "directory"

// scanTree walks root without following links and returns every entry
// below it but manifest.json and leftover temporary files, by slash path:
// "" for a regular file, kindDir for a directory, or what else it is.
func scanTree(root *os.Root, dir string) (map[string]string, error) {
	tree := map[string]string{}
	err := fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return fmt.Errorf("folder %s: %w", dir, err)
		}
		switch {
		case p == ".":
		case d.IsDir():
			tree[p] = kindDir
		case p == ManifestFile || atomicTemp(d.Name()):
		case d.Type().IsRegular():
			tree[p] = ""
		default:
			tree[p] = fileKind(d.Type())
		}
		return nil
	})
	return tree, err
}

// atomicTemp reports whether name is a temporary file of
// atomicfile.Write (".NAME.tmp-" followed by os.CreateTemp's digits),
// left over by a write that was killed.
func atomicTemp(name string) bool {
	i := strings.LastIndex(name, ".tmp-")
	if !strings.HasPrefix(name, ".") || i < 2 || i+len(".tmp-") == len(name) {
		return false
	}
	for _, c := range name[i+len(".tmp-"):] {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func fileKind(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeDevice != 0:
		return "device"
	case m.IsDir():
		return kindDir
	}
	return "non-regular file"
}

type fileSum struct {
	size int64
	sha  string
	err  error
}

// hashFiles hashes the files at paths (slash paths in root) over a few
// goroutines, streaming each.
func hashFiles(root *os.Root, paths []string) []fileSum {
	sums := make([]fileSum, len(paths))
	workers := min(4, runtime.GOMAXPROCS(0), len(paths))
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range next {
				sums[i] = hashFile(root, paths[i])
			}
		})
	}
	for i := range paths {
		next <- i
	}
	close(next)
	wg.Wait()
	return sums
}

func hashFile(root *os.Root, p string) fileSum {
	f, err := root.Open(filepath.FromSlash(p))
	if err != nil {
		return fileSum{err: err}
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return fileSum{err: err}
	}
	return fileSum{size: n, sha: hex.EncodeToString(h.Sum(nil))}
}
