// Package mask is the geometry of binary masks on an image's pixel grid:
// the Mask type (mask.go), the rasterisation of polygons and circles at pixel
// centres with the even-odd rule (raster.go), the post-processing of
// predicted masks — connected components, keeping the largest, filling
// holes, splitting a lung mask into right and left lungs, the bounding box
// (ops.go, which also states the conventions for invalid masks and for
// connectivity) — the tracing of a mask's outlines back to simplified
// polygons (trace.go), and the lung zones of the Brixia score (zones.go).
//
// A mask is row-major: the pixel at column x, row y is Pix[y*Width+x], 0 or
// 1. The cohorts' readers (package datasets) build their lung and opacity
// masks with it; the model, the metrics and the figures read them.
package mask
