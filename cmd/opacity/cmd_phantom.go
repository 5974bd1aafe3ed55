package main

import (
	"bytes"
	"fmt"
	"image/png"
	"io"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/datasets/phantom"
	"github.com/covidxray/opacity/research"
)

func init() {
	register(command{
		name:    "phantom",
		summary: "write a synthetic (phantom) cohort in the on-disk layout of the real data",
		run:     runPhantom,
	})
}

func runPhantom(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("phantom", stderr)
	out := fs.String("out", "", "data folder to write (created; a previous phantom there is replaced) (required)")
	patients := fs.Int("patients", 40, "number of COVID-19-AR-like patients (1-4 X-rays each)")
	seed := fs.Int64("seed", 1, "random seed: the same seed gives the same bytes")
	size := fs.Int("size", phantom.DefaultSize, "image side in pixels")
	cohen := fs.Int("cohen", phantom.DefaultCohenImages, "images of the external (Cohen-like) set; 0 for none")
	sheet := fs.String("sheet", "", "also write a PNG contact sheet of some X-rays with their masks to this file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: opacity phantom --out DIR [--patients N] [--seed S] [--size PX] [--cohen M] [--sheet FILE.png]")
		fmt.Fprintln(stderr, "\nWrites a deterministic synthetic cohort (covid-ar/ with clinical outcomes, cohen/ with")
		fmt.Fprintln(stderr, "severity scores) marked SYNTHETIC everywhere, and prints a summary.")
		fs.PrintDefaults()
	}
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	if err := requireFlags(fs, "out"); err != nil {
		return err
	}
	if *cohen < 0 {
		return fmt.Errorf("--cohen %d: want 0 or more", *cohen)
	}
	if *cohen == 0 {
		*cohen = -1 // none, in phantom.Options' terms
	}
	sum, err := phantom.Write(*out, phantom.Options{Patients: *patients, Seed: *seed, Size: *size, CohenImages: *cohen})
	if err != nil {
		return err
	}
	writePhantomSummary(stdout, sum)
	if *sheet != "" {
		img, err := phantom.ContactSheet(*out, 12)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(*sheet, buf.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "contact sheet: %s\n", *sheet)
	}
	return nil
}

// writePhantomSummary prints what was written, saying it is synthetic.
func writePhantomSummary(w io.Writer, sum *phantom.Summary) {
	icu, mort := sum.Outcomes()
	clear := sum.ClearImages()
	fmt.Fprintf(w, "SYNTHETIC cohort (%s) written to %s\n", sum.Provenance, sum.Dir)
	fmt.Fprintf(w, "covid-ar: %d patients, %d images (%dx%d px), %d clear (%.0f%%)\n",
		len(sum.Patients), len(sum.Images), sum.Size, sum.Size, clear, 100*float64(clear)/float64(max(1, len(sum.Images))))
	fmt.Fprintf(w, "outcomes: %d ICU admissions, %d deaths (all among ICU patients)\n", icu, mort)
	scores := make([]float64, len(sum.Patients))
	icuLabels := make([]bool, len(sum.Patients))
	for i, p := range sum.Patients {
		scores[i], icuLabels[i] = p.MaxOpacityPercent, p.ICU
	}
	if a, err := research.AUC(scores, icuLabels); err == nil {
		fmt.Fprintf(w, "AUC of the patient's max opacity %% for ICU admission: %.3f\n", a)
	}
	if len(sum.Cohen) > 0 {
		cc := 0
		for _, im := range sum.Cohen {
			if im.Clear() {
				cc++
			}
		}
		fmt.Fprintf(w, "cohen: %d images (%d clear) with severity scores\n", len(sum.Cohen), cc)
	}
}
