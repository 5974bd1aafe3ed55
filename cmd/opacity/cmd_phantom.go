package main

import (
	"bytes"
	"flag"
	"fmt"
	"image/png"
	"io"

	"github.com/covidxray/opacity/atomicfile"
	"github.com/covidxray/opacity/datasets/phantom"
	"github.com/covidxray/opacity/research"
)

func init() {
	register(command{
		name:    "data phantom",
		summary: "write a synthetic (phantom) cohort in the on-disk layout of the real data",
		run:     runPhantom,
	})
	registerDeprecatedCommand("phantom", "data phantom")
}

// phantomFlags are the flags of data phantom.
type phantomFlags struct {
	data, sheet                *string
	patients, imageSize, cohen *int
	seed                       *int64
}

func addPhantomFlags(fs *flag.FlagSet) *phantomFlags {
	f := &phantomFlags{
		data:      addDataFlag(fs, "data folder to write (created; a previous phantom there is replaced) (required)"),
		patients:  fs.Int("patients", 40, "number of COVID-19-AR-like patients (1-4 X-rays each)"),
		seed:      addSeedFlag(fs, 1, "random seed: the same seed gives the same bytes"),
		imageSize: fs.Int("image-size", phantom.DefaultSize, "side of the X-rays in pixels (the images', not the model's input --size)"),
		cohen:     fs.Int("cohen-images", phantom.DefaultCohenImages, "images of the external (Cohen-like) set, cohen/; 0 for none"),
		sheet:     fs.String("sheet", "", "also write a PNG contact sheet of some X-rays with their masks to this file"),
	}
	addDeprecatedAlias(fs, "out", "data")
	addDeprecatedAlias(fs, "size", "image-size")
	addDeprecatedAlias(fs, "cohen", "cohen-images")
	return f
}

func runPhantom(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("data phantom", stderr)
	f := addPhantomFlags(fs)
	setUsage(fs, `usage: opacity data phantom --data DIR [--patients N] [--seed S] [--image-size PX] [--cohen-images M] [--sheet FILE.png]

Writes a deterministic synthetic cohort (covid-ar/ with clinical outcomes, cohen/ with
severity scores) marked SYNTHETIC everywhere, and prints a summary. The older spellings
opacity phantom, --out, --size and --cohen still work, with a note.`)
	if err := parseFlagsNoArgs(fs, args); err != nil {
		return err
	}
	if err := requireFlags(fs, "data"); err != nil {
		return err
	}
	cohen := *f.cohen
	if cohen < 0 {
		return fmt.Errorf("--cohen-images %d: want 0 or more", cohen)
	}
	if cohen == 0 {
		cohen = -1 // none, in phantom.Options' terms
	}
	sum, err := phantom.Write(*f.data, phantom.Options{Patients: *f.patients, Seed: *f.seed, Size: *f.imageSize, CohenImages: cohen})
	if err != nil {
		return err
	}
	writePhantomSummary(stdout, sum)
	if *f.sheet != "" {
		img, err := phantom.ContactSheet(*f.data, 12)
		if err != nil {
			return err
		}
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			return err
		}
		if err := atomicfile.WriteFile(*f.sheet, buf.Bytes(), 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "contact sheet: %s\n", *f.sheet)
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
