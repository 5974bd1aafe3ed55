// Package phantom writes the synthetic cohort: a deterministic stand-in for
// the real data, in the same on-disk layout (package datasets), that every
// test, notebook and default run uses when no real data is named, and that
// marks everything made from it SYNTHETIC.
//
// Write (phantom.go) plans the patients, their X-rays, clinical outcomes and
// severity scores and writes the covid-ar and cohen folders; each X-ray is
// painted as a density field — thorax, lung fields, bones, vessels, exposure
// (chest.go, on the float images of field.go) — with opacities of the
// paper's three kinds drawn inside the lungs (opacity.go), and the lung and
// opacity polygons it painted are the annotation it saves (xray.go).
// ContactSheet (sheet.go) reads a written cohort back and shows it, masks
// outlined, for a person to look at.
package phantom
