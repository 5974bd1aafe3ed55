package datasets

// The names of the data layout, in one place: the folders of a data folder
// (one per cohort) and the files and folders inside them. Every reader and
// writer of the layout (this package, the phantom, the fetcher, the
// commands) builds its paths from these names. docs/design.md and the
// README's "Data layout" describe the same tree.

// Cohort names: the folders of the on-disk layout.
const (
	CohortCovidAR = "covid-ar" // the paper's training/testing cohort (TCIA COVID-19-AR)
	CohortCohen   = "cohen"    // the paper's external validation set (Cohen et al.)
	CohortCXRSeg  = "cxr-seg"  // 100 images with radiologists' masks
	// CohortCovidQUEx holds thousands of X-rays with semi-automatic lung
	// and infection masks (COVID-QU-Ex): training data for the automatic
	// measurement, not in the paper.
	CohortCovidQUEx = "covid-qu-ex"
)

// At the top of a data folder.
const (
	// SyntheticMarker is the file at the top of a phantom data folder that
	// says its cohorts are synthetic (see IsSynthetic); it holds one line of
	// provenance.
	SyntheticMarker = "SYNTHETIC"

	// CohenModelScoresFile is the CSV of Cohen et al.'s severity-model
	// scores on the covid-ar images, at the top of a data folder: a header
	// with an image column (file, filename, image or stem) and
	// opacity_score, one row per image, lines starting with '#' are
	// comments. The real scores need their model's weights, so a user
	// supplies the file; a phantom writes a synthetic stand-in, marked
	// SYNTHETIC in its comment lines.
	CohenModelScoresFile = "cohen-model-scores.csv"
)

// Inside the folders of covid-ar, cohen and cxr-seg.
const (
	AnnotationsDir = "annotations" // covid-ar, cohen: labelme files NAME.json
	ImagesDir      = "images"      // cohen, cxr-seg (and covid-ar where not embedded): the X-rays
	MasksDir       = "masks"       // cxr-seg: the class-mask crops that structure.csv places

	PatientInfoFile      = "patient_info.csv"          // covid-ar: the clinical table (ReadClinical)
	RadiologistNotesFile = "radiologist_notes.csv"     // covid-ar: the radiologist's notes (ReadRadiologistNotes)
	SeverityScoresFile   = "covid-severity-scores.csv" // cohen: the radiologists' severity scores (ReadSeverityScores)
	MetadataFile         = "metadata.csv"              // cohen, cxr-seg: patient ids and sources (ReadPatientIDs)
	StructureFile        = "structure.csv"             // cxr-seg: where each mask crop goes (ReadCXRSegStructure)
)

// The covid-qu-ex cohort's layout, relative to its folder DATA/covid-qu-ex.
const (
	QUExIndexFile          = "index.csv"           // file,class,source_split
	QUExNearDuplicatesFile = "near-duplicates.csv" // file_a,file_b,similarity_32px_ncc
	QUExRemovedFile        = "removed-overlap.csv" // source_file,same_xray_as,similarity_32px_ncc
	QUExImagesDir          = ImagesDir             // NAME.png, 8-bit grey X-rays
	QUExLungMasksDir       = "masks/lung"          // NAME.png, 0 / 255 both lungs
	QUExInfectionMasksDir  = "masks/infection"     // NAME.png, 0 / 255 COVID-19 infection
)

// The Brixia annotations under the data folder.
const (
	BrixiaDir  = "brixia"                 // directory of the Brixia scores
	BrixiaFile = "public-annotations.csv" // filename, S-A..S-F, S-Global, J-A..J-F, J-Global
)
