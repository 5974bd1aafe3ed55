package xrayfile

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"strings"
)

// Limits on the size of an image or canvas, far above any chest X-ray (the
// largest real ones are about 4300 px a side), so that a corrupt header or a
// stray coordinate cannot make the reader allocate gigabytes.
const (
	MaxSide   = 1 << 15 // pixels per side
	MaxPixels = 1 << 27 // pixels in all (128 Mi)
)

// imageFormat returns "jpeg" or "png" from the file's magic bytes, or "".
func imageFormat(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte{0xFF, 0xD8}):
		return "jpeg"
	case bytes.HasPrefix(data, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	}
	return ""
}

// DecodeSize returns the width and height of a JPEG or PNG image from
// its header alone, without decoding its pixels. name is used in errors.
func DecodeSize(name string, data []byte) (width, height int, err error) {
	cfg, _, err := decodeConfig(name, data)
	if err != nil {
		return 0, 0, err
	}
	return cfg.Width, cfg.Height, nil
}

func decodeConfig(name string, data []byte) (image.Config, string, error) {
	format := imageFormat(data)
	var cfg image.Config
	var err error
	switch format {
	case "jpeg":
		cfg, err = jpeg.DecodeConfig(bytes.NewReader(data))
	case "png":
		cfg, err = png.DecodeConfig(bytes.NewReader(data))
	default:
		return cfg, "", fmt.Errorf("%s: not a JPEG or PNG image (%d bytes)", name, len(data))
	}
	if err != nil {
		return cfg, format, fmt.Errorf("%s: corrupt %s: %w", name, strings.ToUpper(format), readErr(err))
	}
	if err := CheckSize(cfg.Width, cfg.Height); err != nil {
		return cfg, format, fmt.Errorf("%s: %w", name, err)
	}
	return cfg, format, nil
}

// readErr names a truncated stream as such.
func readErr(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return fmt.Errorf("truncated (%w)", err)
	}
	return err
}

// CheckSize checks an image size against the limits: both sides positive,
// at most MaxSide, and at most MaxPixels in all.
func CheckSize(w, h int) error {
	if w <= 0 || h <= 0 {
		return fmt.Errorf("empty image (%dx%d)", w, h)
	}
	if w > MaxSide || h > MaxSide || w*h > MaxPixels {
		return fmt.Errorf("image %dx%d is too large (at most %d px a side, %d px in all)", w, h, MaxSide, MaxPixels)
	}
	return nil
}

// DecodeGray decodes a JPEG or PNG image of any colour model into 8-bit
// grayscale, with its origin at (0, 0). name is used in errors.
//
// Grayscale images keep their values (16-bit ones keep their high byte);
// JPEGs in YCbCr give their luma plane Y (JFIF: Y = 0.299 R + 0.587 G +
// 0.114 B); every other model goes through color.GrayModel, the same
// weights. Alpha is premultiplied, as image/color does: a transparent pixel
// is black.
func DecodeGray(name string, data []byte) (*image.Gray, error) {
	img, err := DecodeImage(name, data)
	if err != nil {
		return nil, err
	}
	return toGray(img), nil
}

// DecodeImage decodes a JPEG or PNG image, in its own colour model, after
// checking its size from the header; name is used in errors.
func DecodeImage(name string, data []byte) (image.Image, error) {
	_, format, err := decodeConfig(name, data)
	if err != nil {
		return nil, err
	}
	var img image.Image
	if format == "jpeg" {
		img, err = jpeg.Decode(bytes.NewReader(data))
	} else {
		img, err = png.Decode(bytes.NewReader(data))
	}
	if err != nil {
		return nil, fmt.Errorf("%s: corrupt %s: %w", name, strings.ToUpper(format), readErr(err))
	}
	return img, nil
}

// ReadGray reads and decodes an image file with DecodeGray.
func ReadGray(path string) (*image.Gray, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return DecodeGray(path, data)
}

// toGray converts any image to *image.Gray with origin (0, 0).
func toGray(img image.Image) *image.Gray {
	b := img.Bounds()
	w, h := b.Dx(), b.Dy()
	if g, ok := img.(*image.Gray); ok && b.Min == (image.Point{}) {
		return g
	}
	out := image.NewGray(image.Rect(0, 0, w, h))
	switch src := img.(type) {
	case *image.Gray:
		for y := 0; y < h; y++ {
			i := src.PixOffset(b.Min.X, b.Min.Y+y)
			copy(out.Pix[y*out.Stride:y*out.Stride+w], src.Pix[i:i+w])
		}
	case *image.YCbCr:
		for y := 0; y < h; y++ {
			i := src.YOffset(b.Min.X, b.Min.Y+y)
			copy(out.Pix[y*out.Stride:y*out.Stride+w], src.Y[i:i+w])
		}
	case *image.Gray16:
		for y := 0; y < h; y++ {
			i := src.PixOffset(b.Min.X, b.Min.Y+y)
			row := out.Pix[y*out.Stride : y*out.Stride+w]
			for x := range row {
				row[x] = src.Pix[i+2*x] // high byte, as color.GrayModel
			}
		}
	case *image.RGBA:
		for y := 0; y < h; y++ {
			i := src.PixOffset(b.Min.X, b.Min.Y+y)
			row := out.Pix[y*out.Stride : y*out.Stride+w]
			for x := range row {
				p := src.Pix[i+4*x : i+4*x+3]
				row[x] = grayOf(uint32(p[0])*0x101, uint32(p[1])*0x101, uint32(p[2])*0x101)
			}
		}
	case *image.NRGBA:
		for y := 0; y < h; y++ {
			i := src.PixOffset(b.Min.X, b.Min.Y+y)
			row := out.Pix[y*out.Stride : y*out.Stride+w]
			for x := range row {
				p := src.Pix[i+4*x : i+4*x+4]
				r, g, bl, _ := color.NRGBA{R: p[0], G: p[1], B: p[2], A: p[3]}.RGBA()
				row[x] = grayOf(r, g, bl)
			}
		}
	default:
		for y := 0; y < h; y++ {
			row := out.Pix[y*out.Stride : y*out.Stride+w]
			for x := range row {
				row[x] = color.GrayModel.Convert(img.At(b.Min.X+x, b.Min.Y+y)).(color.Gray).Y
			}
		}
	}
	return out
}

// grayOf is color.GrayModel's formula on 16-bit (premultiplied) channels.
func grayOf(r, g, b uint32) uint8 {
	return uint8((19595*r + 38470*g + 7471*b + 1<<15) >> 24)
}
