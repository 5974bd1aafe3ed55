package research

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"text/tabwriter"
)

// Subset names of the section 4.1 table.
const (
	SubsetAll           = "all"             // every image not in the validation set (train ∪ test: the paper's "whole dataset")
	SubsetTrain         = "train"           // Prediction.Subset == "train"
	SubsetTest          = "test"            // Prediction.Subset == "test"
	SubsetValidation    = "validation"      // Prediction.Subset == "validation"
	SubsetTruthEmpty    = "truth-empty"     // images of "all" whose truth mask is empty
	SubsetTruthNonEmpty = "truth-not-empty" // images of "all" whose truth mask is not empty
)

// TableRow is one subset of the section 4.1 table.
type TableRow struct {
	Subset        string `json:"subset"`
	Images        int    `json:"images"`
	TruthEmpty    int    `json:"truth_empty"` // images of the subset with an empty truth mask
	TruthNonEmpty int    `json:"truth_not_empty"`
	Scores        Scores `json:"scores"`
}

// Adjusted sets the paper's "adjusted" IoU of section 4.1 beside honest
// alternatives, all over the images of subset "all" (train ∪ test).
type Adjusted struct {
	N, NEmpty, NNonEmpty int

	// NonEmptyIoU is convention a on the truth-not-empty images (the paper's
	// 0.6143); EmptyIoU convention a on the truth-empty images (the paper's
	// 2.4e-10: with no truth pixel the soft IoU is s/(Σp+s), near 0 whatever
	// the model does).
	NonEmptyIoU, EmptyIoU float64
	// Paper is the formula as the paper wrote it:
	// (NonEmptyIoU*NNonEmpty + 1*NEmpty)/N, i.e. every truth-empty image
	// counted as a perfect 1 whether or not the model predicted opacity in
	// it, and a pooled score averaged with per-image counts. (The paper's
	// numbers: (0.6143*150 + 1*71)/221 = 0.738.)
	Paper float64
	// EmptyPredictedEmpty is the number of truth-empty images on which the
	// model predicted no pixel at all; only those deserve the 1.
	EmptyPredictedEmpty int
	// EmptyScoredByPrediction is the paper's formula with each truth-empty
	// image scored 1 only when its prediction is empty, 0 otherwise:
	// (NonEmptyIoU*NNonEmpty + EmptyPredictedEmpty)/N.
	EmptyScoredByPrediction float64
	// PerImage is convention c on "all": every image's own hard IoU, empty
	// truth with empty prediction 1, with any false positive 0.
	PerImage float64
	// NaNAware is convention e on "all" (empty/empty left out as undefined).
	NaNAware float64
	// SoftPooledAll is convention a on "all", what the paper's code reports
	// for the whole dataset.
	SoftPooledAll float64
}

// Table41 is the table of the paper's section 4.1, done properly: for each
// subset, the IoU and F1 under every convention with the image counts, and
// the paper's "adjusted" IoU beside honest alternatives.
type Table41 struct {
	Options  MetricOptions `json:"options"`
	Rows     []TableRow    `json:"rows"`
	Adjusted Adjusted      `json:"adjusted"`
}

// SegmentationTable computes the section 4.1 table of preds. Subsets, in
// order: all (every prediction whose Subset is not "validation"), train,
// test, validation, truth-empty and truth-not-empty (both within "all"),
// then any other non-empty Subset label found, alphabetically (an empty
// label counts in "all" only). A subset without images
// gets a row with Images 0 and NaN scores.
func SegmentationTable(preds []Prediction, opt MetricOptions) (Table41, error) {
	if err := opt.check(); err != nil {
		return Table41{}, err
	}
	counts, err := CountImages(preds, opt.Threshold)
	if err != nil {
		return Table41{}, err
	}
	return SegmentationTableFromCounts(counts, opt)
}

// SegmentationTableFromCounts is SegmentationTable on counts already made
// with CountImages (at opt.Threshold).
func SegmentationTableFromCounts(counts []ImageCounts, opt MetricOptions) (Table41, error) {
	if err := opt.check(); err != nil {
		return Table41{}, err
	}
	subsets := map[string][]ImageCounts{}
	var others []string
	for _, c := range counts {
		switch c.Subset {
		case SubsetTrain, SubsetTest, SubsetValidation, "":
		default:
			if _, seen := subsets[c.Subset]; !seen {
				others = append(others, c.Subset)
			}
		}
		subsets[c.Subset] = append(subsets[c.Subset], c)
		if c.Subset != SubsetValidation {
			subsets[SubsetAll+"\x00"] = append(subsets[SubsetAll+"\x00"], c)
			if c.Truth == 0 {
				subsets[SubsetTruthEmpty+"\x00"] = append(subsets[SubsetTruthEmpty+"\x00"], c)
			} else {
				subsets[SubsetTruthNonEmpty+"\x00"] = append(subsets[SubsetTruthNonEmpty+"\x00"], c)
			}
		}
	}
	sort.Strings(others)
	t := Table41{Options: opt}
	add := func(name, key string) error {
		cs := subsets[key]
		s, err := Summarize(cs, opt)
		if err != nil {
			return err
		}
		row := TableRow{Subset: name, Images: len(cs), Scores: s}
		for _, c := range cs {
			if c.Truth == 0 {
				row.TruthEmpty++
			} else {
				row.TruthNonEmpty++
			}
		}
		if len(cs) == 0 {
			row.Scores = nanScores()
		}
		t.Rows = append(t.Rows, row)
		return nil
	}
	for _, r := range [][2]string{
		{SubsetAll, SubsetAll + "\x00"},
		{SubsetTrain, SubsetTrain},
		{SubsetTest, SubsetTest},
		{SubsetValidation, SubsetValidation},
		{SubsetTruthEmpty, SubsetTruthEmpty + "\x00"},
		{SubsetTruthNonEmpty, SubsetTruthNonEmpty + "\x00"},
	} {
		if err := add(r[0], r[1]); err != nil {
			return Table41{}, err
		}
	}
	for _, o := range others {
		if err := add(o, o); err != nil {
			return Table41{}, err
		}
	}

	all, empty, nonEmpty := t.Rows[0], t.Rows[4], t.Rows[5]
	a := Adjusted{N: all.Images, NEmpty: empty.Images, NNonEmpty: nonEmpty.Images,
		NonEmptyIoU: nonEmpty.Scores.SoftPooledIoU, EmptyIoU: empty.Scores.SoftPooledIoU,
		PerImage: all.Scores.PerImageIoU, NaNAware: all.Scores.NaNAwareIoU, SoftPooledAll: all.Scores.SoftPooledIoU}
	a.EmptyPredictedEmpty = empty.Scores.Detection.TN
	nonEmptyPart := a.NonEmptyIoU * float64(a.NNonEmpty)
	if a.NNonEmpty == 0 {
		nonEmptyPart = 0
	}
	a.Paper = ratio(nonEmptyPart+float64(a.NEmpty), float64(a.N))
	a.EmptyScoredByPrediction = ratio(nonEmptyPart+float64(a.EmptyPredictedEmpty), float64(a.N))
	t.Adjusted = a
	return t, nil
}

func nanScores() Scores {
	n := math.NaN()
	return Scores{SoftPooledIoU: n, SoftPooledF1: n, HardPooledIoU: n, HardPooledF1: n,
		PerImageIoU: n, PerImageF1: n, NonEmptyIoU: n, NonEmptyF1: n, NaNAwareIoU: n, NaNAwareF1: n,
		Detection: Detection{Sensitivity: n, Specificity: n}}
}

// FormatScore formats a score for a table: 4 decimals, small values in
// e-notation (so the paper's 2.4e-10 stays visible), and "—" for NaN
// (undefined).
func FormatScore(v float64) string {
	switch {
	case math.IsNaN(v):
		return "—"
	case v != 0 && math.Abs(v) < 1e-3:
		return fmt.Sprintf("%.1e", v)
	}
	return fmt.Sprintf("%.4f", v)
}

// WriteText writes the table as Markdown: one table of IoU, one of F1, the
// detection row per subset and the adjusted-IoU comparison.
func (t Table41) WriteText(w io.Writer) error {
	var b strings.Builder
	fmt.Fprintf(&b, "Segmentation metrics by subset (threshold p > %g, smooth %g, detection minimum area %d px)\n\n",
		t.Options.Threshold, t.Options.Smooth, t.Options.MinArea)
	b.WriteString("Conventions: (a) paper's: soft, pooled over the batch, smoothed; (b) hard, pooled (micro); (c) per-image mean, empty/empty = 1;\n")
	b.WriteString("(d) per-image mean over non-empty truth (MONAI ignore_empty); (e) per-image, empty/empty excluded (nnU-Net).\n\n")
	for _, metric := range []string{"IoU", "F1"} {
		tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', tabwriter.Debug)
		fmt.Fprintf(tw, "| subset\t images\t empty truth\t %s (a)\t (b)\t (c)\t (d)\t (e)\t n(e)\t\n", metric)
		fmt.Fprintf(tw, "|---\t---\t---\t---\t---\t---\t---\t---\t---\t\n")
		for _, r := range t.Rows {
			s := r.Scores
			v := [5]float64{s.SoftPooledIoU, s.HardPooledIoU, s.PerImageIoU, s.NonEmptyIoU, s.NaNAwareIoU}
			if metric == "F1" {
				v = [5]float64{s.SoftPooledF1, s.HardPooledF1, s.PerImageF1, s.NonEmptyF1, s.NaNAwareF1}
			}
			fmt.Fprintf(tw, "| %s\t %d\t %d\t %s\t %s\t %s\t %s\t %s\t %d\t\n", r.Subset, r.Images, r.TruthEmpty,
				FormatScore(v[0]), FormatScore(v[1]), FormatScore(v[2]), FormatScore(v[3]), FormatScore(v[4]), s.NaNAwareN)
		}
		tw.Flush()
		b.WriteString("\n")
	}
	tw := tabwriter.NewWriter(&b, 0, 0, 1, ' ', tabwriter.Debug)
	fmt.Fprintf(tw, "| subset\t detection TP\t FP\t TN\t FN\t sensitivity\t specificity\t\n|---\t---\t---\t---\t---\t---\t---\t\n")
	for _, r := range t.Rows {
		d := r.Scores.Detection
		fmt.Fprintf(tw, "| %s\t %d\t %d\t %d\t %d\t %s\t %s\t\n", r.Subset, d.TP, d.FP, d.TN, d.FN, FormatScore(d.Sensitivity), FormatScore(d.Specificity))
	}
	tw.Flush()
	a := t.Adjusted
	fmt.Fprintf(&b, "\nThe paper's \"adjusted\" IoU and honest alternatives (over %d images, %d with empty truth):\n", a.N, a.NEmpty)
	fmt.Fprintf(&b, "- paper's formula (IoU_a(non-empty)*%d + 1*%d)/%d = %s  (counts every empty-truth image as a perfect 1)\n", a.NNonEmpty, a.NEmpty, a.N, FormatScore(a.Paper))
	fmt.Fprintf(&b, "- same, an empty-truth image scores 1 only if nothing is predicted (%d of %d): %s\n", a.EmptyPredictedEmpty, a.NEmpty, FormatScore(a.EmptyScoredByPrediction))
	fmt.Fprintf(&b, "- IoU_a on non-empty truth %s, on empty truth %s (on an empty truth the soft IoU is s/(Σp+s): 1 only if every probability is exactly 0, near 0 once Σp >> s = %g)\n", FormatScore(a.NonEmptyIoU), FormatScore(a.EmptyIoU), t.Options.Smooth)
	fmt.Fprintf(&b, "- convention (a) on all images: %s; (c) per-image mean: %s; (e) NaN-aware per-image mean: %s\n", FormatScore(a.SoftPooledAll), FormatScore(a.PerImage), FormatScore(a.NaNAware))
	_, err := io.WriteString(w, b.String())
	return err
}

// PaperAdjustedIoU is the "adjusted" IoU of the paper's section 4.1 as the
// paper wrote it: (iouNonEmpty*nNonEmpty + 1*nEmpty)/(nNonEmpty+nEmpty),
// every image with an empty truth mask counted as a perfect 1.
func PaperAdjustedIoU(iouNonEmpty float64, nNonEmpty, nEmpty int) float64 {
	return (iouNonEmpty*float64(nNonEmpty) + float64(nEmpty)) / float64(nNonEmpty+nEmpty)
}
