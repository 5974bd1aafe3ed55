package datasets

import (
	"image"

	"github.com/covidxray/opacity/datasets/mask"
)

// Sample is one chest X-ray with its masks, as every consumer of this package
// sees it, whatever the cohort it came from.
type Sample struct {
	Cohort  string // CohortCovidAR, CohortCohen, CohortCXRSeg or CohortCovidQUEx
	File    string // annotation file name with its .json, or the image file name (cxr-seg)
	Stem    string // File without its extension
	Patient string // patient id (file name before the first '_', or metadata for cohen and cxr-seg; covid-qu-ex: the near-duplicate group)
	// Class is the image's class where the cohort gives one (covid-qu-ex:
	// QUExCOVID, QUExNonCOVID, QUExNormal); "" otherwise.
	Class string

	// Image is the X-ray as 8-bit grayscale, nil for annotation-only files.
	Image *image.Gray
	// Width, Height give the pixel grid of the masks: the image's size, or for
	// annotation-only files a canvas that holds every point.
	Width, Height int

	Lung    *mask.Mask            // union of the lung fields
	Opacity *mask.Mask            // union of the opacity regions (all kinds merged)
	Classes map[string]*mask.Mask // every class mask by its label or class name

	Warnings []string // recoverable problems found while reading it
}

// HasImage reports whether the sample carries pixels.
func (s *Sample) HasImage() bool { return s.Image != nil }

// FileError is a problem with one file, reported instead of stopping a scan.
type FileError struct {
	File  string `json:"file"`
	Error string `json:"error"`
}
