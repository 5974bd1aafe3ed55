package xrayfile

import (
	"encoding/binary"
	"fmt"
	"image"
	"math"
	"os"
)

// Options says how to read an X-ray file.
type Options struct {
	// AnyModality analyses DICOM files whose Modality or Body Part Examined
	// says they are not a chest radiograph; without it Decode refuses
	// them.
	AnyModality bool
}

// Xray is an X-ray read from a file, as an 8-bit display image.
type Xray struct {
	// Image is the display image, 8-bit grayscale with bounds from (0, 0).
	Image *image.Gray
	// Format is the file's format: "jpeg", "png" or "dicom".
	Format string
	// BitsStored is the bits per sample of the source: 8 for JPEG, the bit
	// depth of a PNG, Bits Stored of a DICOM file.
	BitsStored int
	// Photometric is the DICOM Photometric Interpretation (MONOCHROME1,
	// MONOCHROME2, RGB, ...), or for JPEG and PNG "GRAY", "RGB" or "CMYK"
	// after the colour model of the file.
	Photometric string
	// Modality and BodyPart are the DICOM Modality and Body Part Examined,
	// "" when absent (and for JPEG and PNG).
	Modality, BodyPart string
	// TransferSyntax is the UID of a DICOM file's transfer syntax, "" for
	// JPEG and PNG.
	TransferSyntax string
	// Notes say what was applied to reach the display image, in order, e.g.
	// "rescale slope 2 intercept -1024", "window C=40 W=400", "MONOCHROME1
	// inverted", "first of 3 frames", "16-bit PNG windowed to its range
	// 112..3990".
	Notes []string
}

// Decode reads a chest X-ray of any of the formats it is distributed in
// as an 8-bit grayscale display image; name is used in errors. The format
// comes from the content, not the name: DICOM ("DICM" at byte 128; files
// without the 128-byte preamble, starting with a group 0002 or 0008 element,
// are read too), JPEG (FF D8) or PNG (\x89PNG).
//
// JPEG and PNG images are read as DecodeGray reads them (colour through the
// Rec. 601 luma weights of color.GrayModel), except 16-bit grayscale PNGs,
// whose high byte alone would leave a 12-bit X-ray nearly black: they are
// mapped linearly from the image's own minimum..maximum to 0..255 (a
// constant image to 0), as Notes says.
//
// DICOM files may be implicit or explicit VR little endian, explicit VR big
// endian, deflated, or baseline JPEG (and 8-bit extended JPEG); other
// compressed transfer syntaxes are refused with their name, UID and a tool
// that converts them. Grayscale pixels go through the display pipeline of
// PS3.3 C.11: stored values (Bits Stored at High Bit, sign-extended when
// signed), the modality transform (Modality LUT Sequence or Rescale
// Slope/Intercept), the VOI transform (the first VOI LUT Sequence item, else
// the first Window Center/Width, else the frame's own range stretched to
// 0..255), then inversion of MONOCHROME1; values are rounded to nearest. RGB
// becomes gray with DecodeGray's weights. Multi-frame files give their first
// frame. Notes says what was applied.
//
// Unless opt.AnyModality, Decode refuses DICOM files whose Modality is
// not a radiograph's (CR, DX, DR, RG, OT or absent) or whose Body Part
// Examined is present and does not name the chest (CHEST, THORAX, LUNG, ...,
// in any case). It refuses files without pixel data, does not panic on
// malformed input, and checks the image size against MaxSide and
// MaxPixels before it allocates the image.
func Decode(name string, data []byte, opt Options) (*Xray, error) {
	switch {
	case len(data) >= 132 && string(data[128:132]) == "DICM":
		return decodeDICOM(name, data, opt)
	case imageFormat(data) != "":
		return decodeXrayImage(name, data)
	case isDICOM(data):
		return decodeDICOM(name, data, opt)
	}
	return nil, fmt.Errorf("%s: not a JPEG, PNG or DICOM file (%d bytes)", name, len(data))
}

// Read reads and decodes an X-ray file with Decode.
func Read(path string, opt Options) (*Xray, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Decode(path, data, opt)
}

// decodeXrayImage reads a JPEG or PNG file.
func decodeXrayImage(name string, data []byte) (*Xray, error) {
	img, err := DecodeImage(name, data)
	if err != nil {
		return nil, err
	}
	x := &Xray{Format: imageFormat(data), BitsStored: 8, Photometric: "RGB"}
	switch img.(type) {
	case *image.Gray, *image.Gray16:
		x.Photometric = "GRAY"
	case *image.CMYK:
		x.Photometric = "CMYK"
	}
	if x.Format == "png" {
		// IHDR: the bit depth is byte 24, the colour type byte 25 (DecodeImage
		// has checked the header).
		x.BitsStored = int(data[24])
		if ct := data[25]; ct == 0 || ct == 4 {
			x.Photometric = "GRAY"
		}
	}
	if g16, ok := img.(*image.Gray16); ok {
		x.Image, x.Notes = stretchGray16(g16)
		return x, nil
	}
	x.Image = toGray(img)
	return x, nil
}

// stretchGray16 maps a 16-bit grayscale image linearly from its own
// min..max to 0..255, rounding to nearest; a constant image becomes 0.
func stretchGray16(src *image.Gray16) (*image.Gray, []string) {
	b := src.Bounds()
	w, h := b.Dx(), b.Dy()
	lo, hi := uint16(math.MaxUint16), uint16(0)
	for y := 0; y < h; y++ {
		i := src.PixOffset(b.Min.X, b.Min.Y+y)
		for x := 0; x < w; x++ {
			v := uint16(src.Pix[i+2*x])<<8 | uint16(src.Pix[i+2*x+1])
			lo, hi = min(lo, v), max(hi, v)
		}
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	if w == 0 || h == 0 {
		return out, nil
	}
	if lo == hi {
		return out, []string{fmt.Sprintf("16-bit PNG is constant (%d): all 0", lo)}
	}
	span := float64(hi - lo)
	for y := 0; y < h; y++ {
		i := src.PixOffset(b.Min.X, b.Min.Y+y)
		row := out.Pix[y*out.Stride : y*out.Stride+w]
		for x := range row {
			v := uint16(src.Pix[i+2*x])<<8 | uint16(src.Pix[i+2*x+1])
			row[x] = uint8(math.Round(float64(v-lo) * 255 / span))
		}
	}
	return out, []string{fmt.Sprintf("16-bit PNG windowed to its range %d..%d", lo, hi)}
}

// isDICOM reports whether data looks like a DICOM file: "DICM" after the
// 128-byte preamble, or, without the preamble, a first element of group
// 0002 (file meta information) or 0008 (a bare data set) in little endian.
func isDICOM(data []byte) bool {
	if len(data) >= 132 && string(data[128:132]) == "DICM" {
		return true
	}
	_, ok := dicomStart(data)
	return ok
}

// dicomStart says how a DICOM file without a preamble starts: "meta" for a
// file meta group (0002,xxxx) in explicit VR, "dataset" for a bare data set
// starting at group 0008 with an element number below 0x0100.
func dicomStart(data []byte) (string, bool) {
	if len(data) < 8 {
		return "", false
	}
	switch {
	case data[0] == 0x02 && data[1] == 0x00 && isDICOMVR(string(data[4:6])):
		return "meta", true
	case data[0] == 0x08 && data[1] == 0x00 && data[3] == 0x00 &&
		(isDICOMVR(string(data[4:6])) || int64(binary.LittleEndian.Uint32(data[4:8])) <= int64(len(data)-8)):
		// Explicit VR, or implicit VR with a length that fits.
		return "dataset", true
	}
	return "", false
}
