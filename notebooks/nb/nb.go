// Package nb holds what the GoNB notebooks of notebooks/ share, so that a
// notebook's setup is one short cell and its other cells one call each:
// the settings of the environment, loading the study, training with a live
// display, attaching the model's predictions, and showing a result.
//
// A notebook changes an experiment in its setup cell, without environment
// variables:
//
//	func settings() experiment.Settings {
//		s := nb.Settings()
//		s.Epochs, s.Encoder = 20, "resnet34"
//		return s
//	}
//
// Outside a GoNB kernel (in tests) the displays print nothing.
package nb

import (
	"context"
	"encoding/base64"
	"fmt"
	"html"
	"log"
	"os"
	"strings"
	"time"

	"github.com/janpfeifer/gonb/gonbui"

	"github.com/covidxray/opacity/experiment"
	"github.com/covidxray/opacity/paper"
	"github.com/covidxray/opacity/research/plots"
	"github.com/covidxray/opacity/xla/unet"
)

// Settings returns the settings of the environment (experiment.FromEnv:
// make reproduce passes OPACITY_SIZE, OPACITY_DATA, ... to the notebooks),
// stopping the notebook on an error.
func Settings() experiment.Settings {
	s, err := experiment.FromEnv()
	if err != nil {
		log.Fatal(err)
	}
	return s
}

// ModelsDir returns the models folder named by OPACITY_MODELS
// (experiment.EnvModels), "" when none is.
func ModelsDir() string { return os.Getenv(experiment.EnvModels) }

// ShowSettings displays the settings (experiment.Settings.Markdown) and
// generates the default synthetic cohort when it is missing, saying so.
func ShowSettings(s experiment.Settings) {
	gonbui.DisplayMarkdown(s.Markdown())
	generated, err := s.EnsureData()
	if err != nil {
		log.Fatal(err)
	}
	if generated {
		gonbui.DisplayMarkdown("Generated the synthetic cohort into `" + s.DataDir() + "`.")
	}
}

// Load reads the study of the settings (experiment.LoadStudy), stopping the
// notebook on an error.
func Load(s experiment.Settings) *experiment.Study {
	st, err := experiment.LoadStudy(s)
	if err != nil {
		log.Fatal(err)
	}
	return st
}

// Train trains the study's run, or finds it complete, with a live display:
// a progress bar and the loss and IoU curves, updated in place after every
// step and epoch. The text log stays in the run folder (train.log).
func Train(st *experiment.Study) *experiment.Run {
	run, err := st.Train(context.Background(), "", LiveMonitor())
	if err != nil {
		log.Fatal(err)
	}
	return run
}

// WithModel loads the study of the settings and gives every image the
// model's predictions (experiment.Study.EnsureModel): it reuses the run
// that the training notebook (or opacity train) made with the same
// settings, and trains it first, with the live display, when it is missing.
func WithModel(s experiment.Settings) *experiment.Study {
	st := Load(s)
	if err := st.EnsureModel(context.Background(), LiveMonitor()); err != nil {
		log.Fatal(err)
	}
	return st
}

// Show displays a result: its Markdown, then its figures; an error stops
// the notebook.
func Show(r *paper.Result, err error) {
	if err != nil {
		log.Fatal(err)
	}
	gonbui.DisplayMarkdown("### " + r.Title + "\n\n" + r.Markdown)
	for _, f := range r.Figures {
		tag, err := ImageHTML(f)
		if err != nil {
			log.Fatal(err)
		}
		gonbui.DisplayHTML(tag)
	}
}

// ImageHTML returns an HTML <img> element with the PNG file embedded,
// scaled to at most the page width, and the file name under it.
func ImageHTML(pngPath string) (string, error) {
	b, err := os.ReadFile(pngPath)
	if err != nil {
		return "", err
	}
	return PNGHTML(b, pngPath), nil
}

// PNGHTML returns an HTML <img> element with the PNG bytes embedded,
// scaled to at most the page width, and caption under it in code style.
func PNGHTML(png []byte, caption string) string {
	return fmt.Sprintf(`<figure style="margin:0"><img style="max-width:100%%;width:900px" src="data:image/png;base64,%s"/><figcaption><code>%s</code></figcaption></figure>`,
		base64.StdEncoding.EncodeToString(png), html.EscapeString(caption))
}

// LiveMonitor returns a monitor that shows the training in the notebook:
// the messages as Markdown, a progress bar updated after every step, and
// the training curves redrawn after every epoch.
func LiveMonitor() experiment.Monitor {
	bar, curves := "progress_"+gonbui.UniqueID(), "curves_"+gonbui.UniqueID()
	start := time.Now()
	return experiment.Monitor{
		Out: markdownWriter{},
		OnStep: func(s unet.StepInfo) {
			gonbui.UpdateHTML(bar, ProgressHTML(s, time.Since(start)))
		},
		OnEpoch: func(e unet.EpochInfo) {
			gonbui.UpdateHTML(bar, ProgressHTML(unet.StepInfo{Epoch: e.Epoch, Epochs: e.Epochs, Step: 1, Steps: 1, MeanLoss: e.TrainLoss}, time.Since(start))+
				"<pre>"+html.EscapeString(unet.EpochLine(e.Epoch, e.Epochs, e.TrainLoss, e.Records, e.Times))+"</pre>")
			if len(e.All) == 0 {
				return
			}
			f, err := plots.TrainingFigure("", e.All)
			if err != nil {
				return
			}
			b, err := f.PNG()
			if err != nil {
				return
			}
			gonbui.UpdateHTML(curves, PNGHTML(b, fmt.Sprintf("after epoch %d of %d", e.Epoch, e.Epochs)))
		},
	}
}

// ProgressHTML renders a training's progress: a bar over the run's steps
// and a line with the epoch, the step, the mean loss and the elapsed time.
func ProgressHTML(s unet.StepInfo, elapsed time.Duration) string {
	done := (s.Epoch-1)*s.Steps + s.Step
	total := s.Epochs * s.Steps
	return fmt.Sprintf(`<div><progress value="%d" max="%d" style="width:60%%"></progress> epoch %d/%d, step %d/%d, mean loss %.4f, %s</div>`,
		done, total, s.Epoch, s.Epochs, s.Step, s.Steps, s.MeanLoss, elapsed.Round(time.Second))
}

// markdownWriter shows each message written to it as Markdown.
type markdownWriter struct{}

// Write displays p (one or more lines of text) in the notebook.
func (markdownWriter) Write(p []byte) (int, error) {
	if msg := strings.TrimSpace(string(p)); msg != "" {
		gonbui.DisplayMarkdown(msg)
	}
	return len(p), nil
}
