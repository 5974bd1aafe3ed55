// Package xrayfile reads chest X-ray files as 8-bit grayscale display
// images, whatever the format they are distributed in: Decode and Read take
// DICOM, JPEG or PNG by their content and say what was applied (xray.go);
// the DICOM part — a guarded structural pre-scan, the transfer syntaxes, the
// display pipeline of rescale, VOI window or LUT and MONOCHROME1 inversion —
// is dicom.go; DecodeGray, ReadGray and DecodeSize read the JPEG and PNG
// images of the cohorts, with the size limits MaxSide and MaxPixels checked
// from the header before any pixel is allocated (imagefile.go).
//
// No reader panics on malformed input; the parsers are fuzzed
// (FuzzDecodeXray).
package xrayfile
