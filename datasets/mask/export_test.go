package mask

// For the external tests of this folder (package mask_test).
var (
	LungMask       = lungMask
	LungOutlines   = lungOutlines
	EllipsePolygon = ellipsePolygon
	MaskIoU        = maskIoUOf
	Rows           = maskRows
)
