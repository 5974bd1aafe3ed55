// Package verdict checks the numbers a reproduction regenerated against
// the expected values committed in the repository, so that a reviewer's
// `make reproduce` ends with PASS or DIFF instead of a table to compare by
// eye, and a silent change of a number fails.
//
// What a run regenerated is the figures folder's numbers.json (written by
// package paper: every result's numbers and files, see paper.NumbersFile).
// Each number becomes an item "RESULT.KEY" (e.g. "tables.iou_a_test"), and
// each file written an item "file:NAME" with the value 1, so the figures
// without numbers are checked to exist.
//
// An expected file (figures/expected-*.csv, see Read) holds, per item, the
// value, the tolerance and the reason for that tolerance, and the
// settings it is for (Config). Check compares item by item: a number
// outside its tolerance is a DIFF, an expected item the run did not make
// is MISSING, an item the run made that the file does not know is NEW;
// each of these fails the verdict. A run whose settings are not the
// file's gets no verdict (Config.Match says why) rather than a false DIFF.
//
// Update writes an expected file from a run on purpose: existing items
// keep their tolerance and reason, new ones take the first matching Rule.
package verdict

import (
	"bufio"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Status is the outcome of one item.
type Status string

// The outcomes of an item: only PASS passes.
const (
	Pass    Status = "PASS"
	Diff    Status = "DIFF"
	Missing Status = "MISSING" // expected, not regenerated
	New     Status = "NEW"     // regenerated, not expected
)

// Exact is the tolerance of an item that must be equal.
const Exact = 0.0

// Expected is one expected value.
type Expected struct {
	Item string
	// Value is the expected value; NaN stands for an undefined value
	// (null in numbers.json), which must stay undefined.
	Value float64
	// Tolerance is the largest absolute difference that passes (Exact: 0).
	Tolerance float64
	// Reason says why the tolerance is what it is.
	Reason string
}

// Config is what an expected file is for: the kind of data (synthetic, or
// real with a fingerprint of the data folder), the size preset, and the
// environment settings that change the numbers (OPACITY_EPOCHS=…), none for
// the preset's own.
type Config struct {
	Data      string   // "synthetic" or "real:FINGERPRINT"
	Size      string   // tiny, smoke, full
	Overrides []string // sorted NAME=VALUE
}

// String renders c as the expected file's settings line: "data=… size=…
// overrides=A=1,B=2" (overrides=none when there are none).
func (c Config) String() string {
	o := "none"
	if len(c.Overrides) > 0 {
		o = strings.Join(c.Overrides, ",")
	}
	return fmt.Sprintf("data=%s size=%s overrides=%s", c.Data, c.Size, o)
}

// ParseConfig reads a settings line written by Config.String.
func ParseConfig(line string) (Config, error) {
	var c Config
	for _, f := range strings.Fields(line) {
		k, v, ok := strings.Cut(f, "=")
		if !ok {
			return c, fmt.Errorf("settings %q: %q is not key=value", line, f)
		}
		switch k {
		case "data":
			c.Data = v
		case "size":
			c.Size = v
		case "overrides":
			if v != "none" && v != "" {
				c.Overrides = strings.Split(v, ",")
				sort.Strings(c.Overrides)
			}
		default:
			return c, fmt.Errorf("settings %q: unknown key %q", line, k)
		}
	}
	if c.Data == "" || c.Size == "" {
		return c, fmt.Errorf("settings %q: want data=… size=…", line)
	}
	return c, nil
}

// Match returns "" when a run with settings run can be judged by the
// expected values made with c, else the reason it cannot.
func (c Config) Match(run Config) string {
	var why []string
	if run.Data != c.Data {
		why = append(why, fmt.Sprintf("data %s, the expected values' %s", run.Data, c.Data))
	}
	if run.Size != c.Size {
		why = append(why, fmt.Sprintf("size %s, the expected values' %s", run.Size, c.Size))
	}
	if strings.Join(run.Overrides, ",") != strings.Join(c.Overrides, ",") {
		why = append(why, fmt.Sprintf("settings changed by %s, the expected values' by %s", orNone(run.Overrides), orNone(c.Overrides)))
	}
	return strings.Join(why, "; ")
}

func orNone(o []string) string {
	if len(o) == 0 {
		return "none"
	}
	return strings.Join(o, ",")
}

// Run is what a reproduction regenerated: its settings and its items.
type Run struct {
	Config Config
	// DataDir is the data folder the results name.
	DataDir string
	// Values are the regenerated items (NaN: undefined).
	Values map[string]float64
}

// record is the part of one result of numbers.json that is read.
type record struct {
	Data      string              `json:"data"`
	Synthetic bool                `json:"synthetic"`
	Size      string              `json:"size"`
	Numbers   map[string]*float64 `json:"numbers"`
	Files     []string            `json:"files"`
}

// ReadRun reads the numbers.json of a figures folder; overrides are the
// run's environment overrides (Overrides). A real data folder is
// fingerprinted (Fingerprint), so expected values made on other data do
// not judge it.
func ReadRun(numbersJSON string, overrides []string) (*Run, error) {
	b, err := os.ReadFile(numbersJSON)
	if err != nil {
		return nil, err
	}
	var recs map[string]record
	if err := json.Unmarshal(b, &recs); err != nil {
		return nil, fmt.Errorf("%s: %w", numbersJSON, err)
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s: no results", numbersJSON)
	}
	run := &Run{Values: map[string]float64{}, Config: Config{Overrides: overrides}}
	ids := make([]string, 0, len(recs))
	for id := range recs {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	kinds := map[string]bool{}
	for _, id := range ids {
		rec := recs[id]
		kinds[fmt.Sprintf("%s (synthetic %v, size %s)", rec.Data, rec.Synthetic, rec.Size)] = true
		run.DataDir, run.Config.Size = rec.Data, rec.Size
		run.Config.Data = "synthetic"
		if !rec.Synthetic {
			run.Config.Data = "real"
		}
		for k, v := range rec.Numbers {
			if v == nil {
				run.Values[id+"."+k] = math.NaN()
			} else {
				run.Values[id+"."+k] = *v
			}
		}
		for _, f := range rec.Files {
			run.Values["file:"+f] = 1
		}
	}
	if len(kinds) > 1 {
		var ks []string
		for k := range kinds {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		return nil, fmt.Errorf("%s holds results of different runs: %s; rerun every notebook with one setting", numbersJSON, strings.Join(ks, "; "))
	}
	if run.Config.Data == "real" {
		fp, err := Fingerprint(run.DataDir)
		if err != nil {
			return nil, fmt.Errorf("fingerprint of the data folder: %w", err)
		}
		run.Config.Data = "real:" + fp
	}
	return run, nil
}

// Fingerprint identifies a data folder by the names and sizes of its files
// (not their contents, which would take minutes to read): the first 12 hex
// digits of a SHA-256 over the sorted "path size" lines.
func Fingerprint(dir string) (string, error) {
	var lines []string
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		lines = append(lines, fmt.Sprintf("%s %d", filepath.ToSlash(rel), info.Size()))
		return nil
	})
	if err != nil {
		return "", err
	}
	if len(lines) == 0 {
		return "", fmt.Errorf("%s: no files", dir)
	}
	sort.Strings(lines)
	h := sha256.New()
	for _, l := range lines {
		io.WriteString(h, l+"\n")
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

// File is an expected file: what it is for, its comments and its values.
type File struct {
	Config Config
	// Comments are the lines after "# " at the top, other than the
	// settings line: how the values were made.
	Comments []string
	Items    []Expected
}

// settingsPrefix starts the comment line that holds the Config.
const settingsPrefix = "settings: "

// Read reads an expected file: "# " comment lines, one of them
// "# settings: data=… size=… overrides=…", then a CSV with the header
// item,value,tolerance,reason. value is a number or "null" (undefined);
// tolerance "exact" or an absolute number.
func Read(r io.Reader) (*File, error) {
	br := bufio.NewReader(r)
	f := &File{}
	haveConfig := false
	for {
		b, err := br.Peek(1)
		if err != nil || b[0] != '#' {
			break
		}
		line, err := br.ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, err
		}
		line = strings.TrimRight(strings.TrimPrefix(strings.TrimPrefix(line, "#"), " "), "\r\n")
		if strings.HasPrefix(line, settingsPrefix) {
			if f.Config, err = ParseConfig(strings.TrimPrefix(line, settingsPrefix)); err != nil {
				return nil, err
			}
			haveConfig = true
			continue
		}
		f.Comments = append(f.Comments, line)
	}
	if !haveConfig {
		return nil, errors.New("no '# settings: data=… size=… overrides=…' line at the top")
	}
	cr := csv.NewReader(br)
	cr.FieldsPerRecord = 4
	rows, err := cr.ReadAll()
	if err != nil {
		return nil, err
	}
	if len(rows) == 0 || strings.Join(rows[0], ",") != "item,value,tolerance,reason" {
		return nil, errors.New("want the header item,value,tolerance,reason")
	}
	seen := map[string]bool{}
	for i, row := range rows[1:] {
		e := Expected{Item: row[0], Reason: row[3]}
		if e.Item == "" || seen[e.Item] {
			return nil, fmt.Errorf("row %d: empty or repeated item %q", i+2, e.Item)
		}
		seen[e.Item] = true
		if e.Value, err = parseValue(row[1]); err != nil {
			return nil, fmt.Errorf("row %d (%s): value: %w", i+2, e.Item, err)
		}
		if e.Tolerance, err = parseTolerance(row[2]); err != nil {
			return nil, fmt.Errorf("row %d (%s): tolerance: %w", i+2, e.Item, err)
		}
		if strings.TrimSpace(e.Reason) == "" {
			return nil, fmt.Errorf("row %d (%s): no reason for the tolerance", i+2, e.Item)
		}
		f.Items = append(f.Items, e)
	}
	return f, nil
}

// ReadFile reads the expected file at p (Read).
func ReadFile(p string) (*File, error) {
	fh, err := os.Open(p)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	f, err := Read(fh)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", p, err)
	}
	return f, nil
}

func parseValue(s string) (float64, error) {
	if s == "null" {
		return math.NaN(), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err == nil && math.IsNaN(v) {
		err = errors.New("NaN: write null")
	}
	return v, err
}

// FormatValue writes a value as the expected file holds it: the shortest
// decimal that reads back to the same float64, or null.
func FormatValue(v float64) string {
	if math.IsNaN(v) {
		return "null"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func parseTolerance(s string) (float64, error) {
	if s == "exact" {
		return Exact, nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err == nil && (v < 0 || math.IsNaN(v) || math.IsInf(v, 0)) {
		err = fmt.Errorf("%q: want exact or a number ≥ 0", s)
	}
	return v, err
}

// FormatTolerance writes a tolerance: "exact" or the number.
func FormatTolerance(t float64) string {
	if t == Exact {
		return "exact"
	}
	return strconv.FormatFloat(t, 'g', -1, 64)
}

// Write writes f in the format Read reads, items sorted.
func (f *File) Write(w io.Writer) error {
	bw := bufio.NewWriter(w)
	for _, c := range f.Comments {
		fmt.Fprintf(bw, "# %s\n", c)
	}
	fmt.Fprintf(bw, "# %s%s\n", settingsPrefix, f.Config)
	cw := csv.NewWriter(bw)
	cw.Write([]string{"item", "value", "tolerance", "reason"})
	items := append([]Expected(nil), f.Items...)
	sort.Slice(items, func(i, j int) bool { return items[i].Item < items[j].Item })
	for _, e := range items {
		cw.Write([]string{e.Item, FormatValue(e.Value), FormatTolerance(e.Tolerance), e.Reason})
	}
	cw.Flush()
	if err := cw.Error(); err != nil {
		return err
	}
	return bw.Flush()
}

// Row is one line of a verdict.
type Row struct {
	Item      string
	Expected  float64 // NaN: undefined, or not expected (New)
	Got       float64 // NaN: undefined, or not regenerated (Missing)
	Tolerance float64
	Status    Status
	Reason    string
}

// Verdict is the outcome of a check: one row per item, expected items in
// the file's order then the new ones.
type Verdict struct {
	Rows []Row
}

// OK reports whether every item passed.
func (v *Verdict) OK() bool {
	for _, r := range v.Rows {
		if r.Status != Pass {
			return false
		}
	}
	return true
}

// Count returns how many rows have status s.
func (v *Verdict) Count(s Status) int {
	n := 0
	for _, r := range v.Rows {
		if r.Status == s {
			n++
		}
	}
	return n
}

// Check compares what a run regenerated (item → value, NaN undefined)
// with the expected values.
func Check(expected []Expected, got map[string]float64) *Verdict {
	v := &Verdict{}
	known := map[string]bool{}
	for _, e := range expected {
		known[e.Item] = true
		r := Row{Item: e.Item, Expected: e.Value, Got: math.NaN(), Tolerance: e.Tolerance, Reason: e.Reason}
		g, ok := got[e.Item]
		switch {
		case !ok:
			r.Status = Missing
		default:
			r.Got = g
			r.Status = Diff
			if Within(e.Value, g, e.Tolerance) {
				r.Status = Pass
			}
		}
		v.Rows = append(v.Rows, r)
	}
	var extra []string
	for k := range got {
		if !known[k] {
			extra = append(extra, k)
		}
	}
	sort.Strings(extra)
	for _, k := range extra {
		v.Rows = append(v.Rows, Row{Item: k, Expected: math.NaN(), Got: got[k], Status: New, Reason: "not in the expected file"})
	}
	return v
}

// Within reports whether got is expected within tol: both undefined, or
// both defined and |got − expected| ≤ tol (equal when tol is Exact).
func Within(expected, got, tol float64) bool {
	switch {
	case math.IsNaN(expected) || math.IsNaN(got):
		return math.IsNaN(expected) && math.IsNaN(got)
	case tol == Exact:
		return expected == got
	}
	return math.Abs(got-expected) <= tol
}

// Table renders the verdict as an aligned text table: item, expected, got,
// tolerance, status; then one line with the outcome.
func (v *Verdict) Table() string { return v.table(false) }

// FailureTable is Table with only the rows that did not pass (and the
// outcome line, which counts every item).
func (v *Verdict) FailureTable() string { return v.table(true) }

func (v *Verdict) table(failuresOnly bool) string {
	head := []string{"item", "expected", "got", "tolerance", "verdict"}
	rows := [][]string{head}
	for _, r := range v.Rows {
		if failuresOnly && r.Status == Pass {
			continue
		}
		exp, got, tol := FormatValue(r.Expected), FormatValue(r.Got), FormatTolerance(r.Tolerance)
		switch r.Status {
		case New:
			exp, tol = "—", "—"
		case Missing:
			got = "—"
		}
		rows = append(rows, []string{r.Item, short(exp), short(got), tol, string(r.Status)})
	}
	if len(rows) == 1 {
		return v.Summary() + "\n" // nothing to list
	}
	width := make([]int, len(head))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len([]rune(c)))
		}
	}
	var b strings.Builder
	for i, row := range rows {
		for j, c := range row {
			if j == len(row)-1 {
				b.WriteString(c)
				break
			}
			b.WriteString(c + strings.Repeat(" ", width[j]-len([]rune(c))+2))
		}
		b.WriteString("\n")
		if i == 0 {
			for j, w := range width {
				b.WriteString(strings.Repeat("-", w))
				if j < len(width)-1 {
					b.WriteString("  ")
				}
			}
			b.WriteString("\n")
		}
	}
	b.WriteString(v.Summary() + "\n")
	return b.String()
}

// short rounds a long decimal for the table (the file keeps every digit).
func short(s string) string {
	if len(s) <= 12 {
		return s
	}
	if f, err := strconv.ParseFloat(s, 64); err == nil {
		return strconv.FormatFloat(f, 'g', 10, 64)
	}
	return s
}

// Summary is the verdict in one line: "verdict: PASS (N items)" or
// "verdict: DIFF — …" naming the items that did not pass.
func (v *Verdict) Summary() string {
	if v.OK() {
		return fmt.Sprintf("verdict: PASS (all %d items as expected)", len(v.Rows))
	}
	var bad []string
	for _, r := range v.Rows {
		if r.Status != Pass {
			bad = append(bad, fmt.Sprintf("%s %s", r.Item, r.Status))
		}
	}
	if len(bad) > 8 {
		bad = append(bad[:8], fmt.Sprintf("and %d more", len(bad)-8))
	}
	return fmt.Sprintf("verdict: DIFF — %d of %d items not as expected (%d DIFF, %d MISSING, %d NEW): %s",
		len(v.Rows)-v.Count(Pass), len(v.Rows), v.Count(Diff), v.Count(Missing), v.Count(New), strings.Join(bad, ", "))
}

// Rule gives the tolerance of the items whose name matches Pattern
// (path.Match; the first matching rule of a list wins) and its reason.
type Rule struct {
	Pattern   string
	Tolerance float64
	Reason    string
}

// Update makes the expected file of a run: every regenerated item with its
// value; an item already in old (nil: none) keeps its tolerance and
// reason, another takes the first matching rule. It fails when an item
// matches no rule: every tolerance must have its reason.
func Update(old *File, run *Run, rules []Rule, comments []string) (*File, error) {
	prev := map[string]Expected{}
	if old != nil {
		for _, e := range old.Items {
			prev[e.Item] = e
		}
	}
	f := &File{Config: run.Config, Comments: comments}
	var unmatched []string
	for item, v := range run.Values {
		e := Expected{Item: item, Value: v}
		if p, ok := prev[item]; ok {
			e.Tolerance, e.Reason = p.Tolerance, p.Reason
		} else if r, ok := match(rules, item); ok {
			e.Tolerance, e.Reason = r.Tolerance, r.Reason
		} else {
			unmatched = append(unmatched, item)
			continue
		}
		f.Items = append(f.Items, e)
	}
	if len(unmatched) > 0 {
		sort.Strings(unmatched)
		return nil, fmt.Errorf("no tolerance rule for %s: add one (with its reason) to the rules", strings.Join(unmatched, ", "))
	}
	sort.Slice(f.Items, func(i, j int) bool { return f.Items[i].Item < f.Items[j].Item })
	return f, nil
}

func match(rules []Rule, item string) (Rule, bool) {
	for _, r := range rules {
		if ok, _ := path.Match(r.Pattern, item); ok {
			return r, true
		}
	}
	return Rule{}, false
}
