package paper

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/num"
	"github.com/covidxray/opacity/research"
	"github.com/covidxray/opacity/research/plots"
)

// Result is what one figure, table or experiment function produced: what a
// notebook displays and the files it wrote.
type Result struct {
	// Title names the item of the paper, e.g. "Figure 3".
	Title string
	// Markdown holds the tables and notes to display, in order.
	Markdown string
	// Figures are the PNG files to display, in order (each has an SVG
	// beside it when it is a plot).
	Figures []string
	// Files lists every file written, figures and tables.
	Files []string
	// Skipped says why the step, or part of it, did not run ("" when it
	// ran in full). The reason is also in Markdown.
	Skipped []string
	// Numbers are the key numbers of the result by name, for scripts and
	// REPRODUCE.md (e.g. "auc_image_icu").
	Numbers map[string]float64
	// Facts are the key facts that are not numbers, by name (e.g.
	// "train_cohort").
	Facts map[string]string
}

func newResult(title string) *Result {
	return &Result{Title: title, Numbers: map[string]float64{}, Facts: map[string]string{}}
}

// note appends a Markdown paragraph.
func (r *Result) note(format string, args ...any) {
	r.Markdown += fmt.Sprintf(format, args...) + "\n\n"
}

// skip records a step that did not run, with the reason shown in the
// Markdown.
func (r *Result) skip(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.Skipped = append(r.Skipped, msg)
	r.Markdown += "> **Skipped:** " + msg + "\n\n"
}

// saveFigure writes f as PNG and SVG under the figures folder and records
// both in r.
func (r *Result) saveFigure(s experiment.Settings, name string, f *plots.Figure) error {
	if err := os.MkdirAll(s.Figures, 0o755); err != nil {
		return err
	}
	paths, err := f.SaveAll(filepath.Join(s.Figures, name))
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	r.Files = append(r.Files, paths...)
	for _, p := range paths {
		if strings.HasSuffix(p, ".png") {
			r.Figures = append(r.Figures, p)
		}
	}
	return nil
}

// table is a table written as Markdown and CSV.
type table struct {
	header []string
	rows   [][]string
}

func (t *table) add(cells ...string) { t.rows = append(t.rows, cells) }

// Table is a table as its formatted cells, for a program to print (the
// command line prints the tables of package paper's functions with it).
type Table struct {
	Header []string
	Rows   [][]string
}

// export returns t as a Table.
func (t *table) export() Table { return Table{Header: t.header, Rows: t.rows} }

// namedFigure is a figure with the name of its files (without extension).
type namedFigure struct {
	name   string
	figure *plots.Figure
}

// saveFigures writes figs into dir (created), each as PNG and SVG named
// prefix+name, and returns the paths: the figures of a function run
// without a study, whose files go where its caller says.
func saveFigures(dir, prefix string, figs []namedFigure) ([]string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, f := range figs {
		p, err := f.figure.SaveAll(filepath.Join(dir, prefix+f.name))
		if err != nil {
			return nil, fmt.Errorf("%s: %w", prefix+f.name, err)
		}
		paths = append(paths, p...)
	}
	return paths, nil
}

// markdown renders the table as a Markdown table.
func (t *table) markdown() string {
	var b strings.Builder
	esc := func(s string) string { return strings.ReplaceAll(s, "|", `\|`) }
	b.WriteString("|")
	for _, h := range t.header {
		b.WriteString(" " + esc(h) + " |")
	}
	b.WriteString("\n|")
	for range t.header {
		b.WriteString("---|")
	}
	b.WriteString("\n")
	for _, r := range t.rows {
		b.WriteString("|")
		for _, c := range r {
			b.WriteString(" " + esc(c) + " |")
		}
		b.WriteString("\n")
	}
	return b.String()
}

// csvBytes renders the table as CSV.
func (t *table) csvBytes() ([]byte, error) {
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(t.header); err != nil {
		return nil, err
	}
	if err := w.WriteAll(t.rows); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// saveTable writes t as name.md (with the caption above it) and name.csv
// under the figures folder, adds its Markdown to r and records the files.
func (r *Result) saveTable(s experiment.Settings, name, caption string, t *table) error {
	if err := os.MkdirAll(s.Figures, 0o755); err != nil {
		return err
	}
	md := t.markdown()
	r.Markdown += "**" + caption + "**\n\n" + md + "\n"
	header := ""
	if s.Synthetic() {
		header = "<!-- SYNTHETIC data: not patients -->\n"
	}
	mdPath := filepath.Join(s.Figures, name+".md")
	if err := atomicfile.WriteFile(mdPath, []byte(header+"**"+caption+"**\n\n"+md), 0o644); err != nil {
		return err
	}
	// The CSV says on every row where its numbers come from.
	prov := "real"
	if s.Synthetic() {
		prov = "SYNTHETIC"
	}
	ct := &table{header: append([]string{"data"}, t.header...)}
	for _, row := range t.rows {
		ct.add(append([]string{prov}, row...)...)
	}
	c, err := ct.csvBytes()
	if err != nil {
		return err
	}
	csvPath := filepath.Join(s.Figures, name+".csv")
	if err := atomicfile.WriteFile(csvPath, c, 0o644); err != nil {
		return err
	}
	r.Files = append(r.Files, mdPath, csvPath)
	return nil
}

// saveImages writes the per-image values of images (as oof.csv:
// experiment.WriteOOFCSV) as name.csv under the figures folder and records
// the file: what a reader needs to recompute a table on another subset.
func (r *Result) saveImages(s experiment.Settings, name string, images []experiment.OOFImage) error {
	if err := os.MkdirAll(s.Figures, 0o755); err != nil {
		return err
	}
	path := filepath.Join(s.Figures, name+".csv")
	if err := experiment.WriteOOFCSV(path, images); err != nil {
		return err
	}
	r.Files = append(r.Files, path)
	return nil
}

// dataTag is the tag added to figure titles: " (SYNTHETIC data)" on
// synthetic data.
func dataTag(s experiment.Settings) string { return syntheticTag(s.Synthetic()) }

// shortTag is dataTag for titles that are short of room: " (SYNTHETIC)".
func shortTag(s experiment.Settings) string { return syntheticShortTag(s.Synthetic()) }

// syntheticTag is dataTag of data that are synthetic or not.
func syntheticTag(synthetic bool) string {
	if synthetic {
		return " (SYNTHETIC data)"
	}
	return ""
}

// syntheticShortTag is shortTag of data that are synthetic or not.
func syntheticShortTag(synthetic bool) string {
	if synthetic {
		return " (SYNTHETIC)"
	}
	return ""
}

// NumbersFile collects, in the figures folder, what every result written
// so far computed (JSON: result id -> record), for Summary, scripts and
// REPRODUCE.md.
const NumbersFile = "numbers.json"

// record is one result in NumbersFile.
type record struct {
	Title     string              `json:"title"`
	Data      string              `json:"data"`
	Synthetic bool                `json:"synthetic"`
	Size      string              `json:"size"`
	Numbers   map[string]*float64 `json:"numbers"` // undefined values are null
	Facts     map[string]string   `json:"facts,omitempty"`
	Files     []string            `json:"files"` // base names, in the figures folder
	Skipped   []string            `json:"skipped,omitempty"`
}

// readRecords reads the figures folder's NumbersFile; a missing or damaged
// file reads as empty.
func readRecords(figures string) map[string]record {
	all := map[string]record{}
	if b, err := os.ReadFile(filepath.Join(figures, NumbersFile)); err == nil {
		if json.Unmarshal(b, &all) != nil {
			return map[string]record{}
		}
	}
	return all
}

// saveNumbers records r in the figures folder's NumbersFile under id,
// replacing what an earlier run of the same result wrote there.
func (r *Result) saveNumbers(s experiment.Settings, id string) error {
	if err := os.MkdirAll(s.Figures, 0o755); err != nil {
		return err
	}
	all := readRecords(s.Figures)
	rec := record{Title: r.Title, Data: s.DataDir(), Synthetic: s.Synthetic(), Size: s.Preset, Numbers: map[string]*float64{}, Facts: r.Facts, Files: []string{}, Skipped: r.Skipped}
	for k, v := range r.Numbers {
		rec.Numbers[k] = num.Nullable(v)
	}
	for _, f := range r.Files {
		rec.Files = append(rec.Files, filepath.Base(f))
	}
	all[id] = rec
	return atomicfile.WriteJSON(filepath.Join(s.Figures, NumbersFile), all, 0o644)
}

// finish returns a function that records the numbers of a result (see
// saveNumbers) and passes it on.
func finish(st *experiment.Study, id string) func(*Result, error) (*Result, error) {
	return finishSettings(st.Settings, id)
}

// finishSettings is finish for results made from settings rather than a
// study.
func finishSettings(s experiment.Settings, id string) func(*Result, error) (*Result, error) {
	return func(r *Result, err error) (*Result, error) {
		if err != nil {
			return nil, err
		}
		if err := r.saveNumbers(s, id); err != nil {
			return nil, err
		}
		return r, nil
	}
}

// bootstrap returns the bootstrap options of the settings.
func bootstrap(s experiment.Settings) research.BootstrapOptions {
	return research.BootstrapOptions{Resamples: s.Bootstrap, Seed: uint64(s.Seed)}
}

// finite is num.Finite under the name modelsvalidation.go (edited
// elsewhere as this is written) still calls; it goes when that file calls
// num.Finite.
func finite(v float64) bool { return num.Finite(v) }
