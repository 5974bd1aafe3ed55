package datasets

import "strings"

// LabelKind says what a labelme label stands for.
type LabelKind int

const (
	// LabelUnknown is a label the study does not name. By the design's rule
	// ("every other label is opacity") it is counted as opacity, with a
	// warning.
	LabelUnknown LabelKind = iota
	// LabelLung is a lung field: right_lung or left_lung.
	LabelLung
	// LabelOpacity is one of the opacity kinds of the paper's annotations:
	// groud_glass_opacity (sic), consolidation, subtle_hazy, opacity.
	LabelOpacity
)

// String returns "unknown", "lung" or "opacity".
func (k LabelKind) String() string {
	switch k {
	case LabelLung:
		return "lung"
	case LabelOpacity:
		return "opacity"
	}
	return "unknown"
}

// Labels of the paper's labelme annotations, spelled as in the source.
const (
	LabelRightLung    = "right_lung"
	LabelLeftLung     = "left_lung"
	LabelGroundGlass  = "groud_glass_opacity" // sic, as in the source files
	LabelConsolidated = "consolidation"
	LabelSubtleHazy   = "subtle_hazy"
	LabelOpacityAny   = "opacity" // the Cohen annotations' only opacity label
)

// ClassifyLabel returns the kind of a labelme label. Labels are compared
// exactly (case and spelling as in the source files).
func ClassifyLabel(label string) LabelKind {
	switch label {
	case LabelRightLung, LabelLeftLung:
		return LabelLung
	case LabelGroundGlass, LabelConsolidated, LabelSubtleHazy, LabelOpacityAny:
		return LabelOpacity
	}
	return LabelUnknown
}

// Class names of the cxr-seg cohort (structure.csv, column "Template Name").
const (
	ClassLeftLung      = "Left Lung"
	ClassRightLung     = "Right Lung"
	ClassGroundGlass   = "Ground Glass Opacities"
	ClassConsolidation = "Consolidation"
)

// ClassifyCXRSegClass returns LabelLung for the lung fields of cxr-seg,
// LabelOpacity for its opacity classes, and LabelUnknown for every other
// class (heart, airways, devices, ...), which the paper's task does not use.
func ClassifyCXRSegClass(class string) LabelKind {
	switch class {
	case ClassLeftLung, ClassRightLung:
		return LabelLung
	case ClassGroundGlass, ClassConsolidation:
		return LabelOpacity
	}
	return LabelUnknown
}

// PatientID returns the patient id of a covid-ar file name: the part of the
// base name before the first '_', or the base name without its extension when
// it has no '_'.
func PatientID(fileName string) string {
	if i := strings.LastIndexAny(fileName, `/\`); i >= 0 {
		fileName = fileName[i+1:]
	}
	if i := strings.IndexByte(fileName, '_'); i >= 0 {
		return fileName[:i]
	}
	return fileStem(fileName)
}

// FileStem returns name without its extension: the part from its last '.'
// on, unless that '.' is name's first character (".hidden" stays whole) or
// the extension, dot included, is longer than maxExt characters (maxExt 0:
// any length). Folders are kept: a caller that wants the stem of the base
// name takes the base name first. The cohorts' files use any length (see
// fileStem); score tables keyed by file name use research.FileStem.
func FileStem(name string, maxExt int) string {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || (maxExt > 0 && len(name)-i > maxExt) {
		return name
	}
	return name[:i]
}

// fileStem is the stem of a cohort's file name: FileStem with an extension
// of any length.
func fileStem(name string) string { return FileStem(name, 0) }
