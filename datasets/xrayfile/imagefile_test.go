package xrayfile

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"strings"
	"testing"

	"github.com/covidxray/opacity/datasets/internal/fixture"
)

// rgbRow is a 4x1 image: red, green, blue, white.
func rgbRow[T interface{ Set(int, int, color.Color) }](img T) T {
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	img.Set(1, 0, color.RGBA{0, 255, 0, 255})
	img.Set(2, 0, color.RGBA{0, 0, 255, 255})
	img.Set(3, 0, color.RGBA{255, 255, 255, 255})
	return img
}

func TestDecodeGrayColourModels(t *testing.T) {
	// color.GrayModel on 16-bit channels: y = (19595 r + 38470 g + 7471 b +
	// 2^15) >> 24 with r = 255*0x101 = 65535:
	//   red   19595*65535 + 32768 = 1284191093 >> 24 = 76
	//   green 38470*65535 + 32768 = 2521164218 >> 24 = 150
	//   blue   7471*65535 + 32768 =  489644753 >> 24 = 29
	//   white 65536*65535 + 32768 = 4294934528 >> 24 = 255
	// (0.299*255 = 76.2, 0.587*255 = 149.7, 0.114*255 = 29.1).
	want := []uint8{76, 150, 29, 255}
	r := image.Rect(0, 0, 4, 1)
	pal := image.NewPaletted(r, color.Palette{color.RGBA{255, 0, 0, 255}, color.RGBA{0, 255, 0, 255}, color.RGBA{0, 0, 255, 255}, color.White})
	tests := []struct {
		name string
		img  image.Image
	}{
		{"RGBA", rgbRow(image.NewRGBA(r))},
		{"NRGBA", rgbRow(image.NewNRGBA(r))},
		{"RGBA64", rgbRow(image.NewRGBA64(r))},
		{"Paletted", rgbRow(pal)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			g, err := DecodeGray("x.png", fixture.EncodePNG(t, tt.img))
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(g.Pix, want) {
				t.Errorf("got %v, want %v", g.Pix, want)
			}
		})
	}

	t.Run("Gray and Gray16 keep their values", func(t *testing.T) {
		g := image.NewGray(r)
		copy(g.Pix, []uint8{0, 1, 128, 255})
		got, err := DecodeGray("g.png", fixture.EncodePNG(t, g))
		if err != nil || !bytes.Equal(got.Pix, g.Pix) {
			t.Errorf("gray: %v %v", got, err)
		}
		g16 := image.NewGray16(r)
		for i, v := range []uint16{0x00ff, 0x0100, 0x80ff, 0xffff} {
			g16.SetGray16(i, 0, color.Gray16{Y: v})
		}
		got, err = DecodeGray("g16.png", fixture.EncodePNG(t, g16))
		if err != nil || !bytes.Equal(got.Pix, []uint8{0x00, 0x01, 0x80, 0xff}) {
			t.Errorf("gray16 (high byte): %v %v", got.Pix, err)
		}
	})

	t.Run("transparent pixels are black", func(t *testing.T) {
		n := image.NewNRGBA(image.Rect(0, 0, 2, 1))
		n.SetNRGBA(0, 0, color.NRGBA{255, 255, 255, 0})
		n.SetNRGBA(1, 0, color.NRGBA{255, 255, 255, 255})
		got, err := DecodeGray("a.png", fixture.EncodePNG(t, n))
		if err != nil || !bytes.Equal(got.Pix, []uint8{0, 255}) {
			t.Errorf("got %v %v, want [0 255]", got.Pix, err)
		}
	})

	t.Run("JPEG gray and YCbCr", func(t *testing.T) {
		// Flat images survive JPEG nearly exactly: gray 128 stays 128 +-1,
		// flat red has luma 0.299*255 = 76 +-2 (chroma subsampling, DCT).
		g := image.NewGray(image.Rect(0, 0, 16, 16))
		for i := range g.Pix {
			g.Pix[i] = 128
		}
		out, err := DecodeGray("g.jpg", fixture.EncodeJPEG(t, g))
		if err != nil {
			t.Fatal(err)
		}
		if v := out.GrayAt(5, 5).Y; v < 127 || v > 129 {
			t.Errorf("gray JPEG: %d, want 128+-1", v)
		}
		red := image.NewRGBA(image.Rect(0, 0, 16, 16))
		for i := 0; i < len(red.Pix); i += 4 {
			red.Pix[i], red.Pix[i+3] = 255, 255
		}
		out, err = DecodeGray("r.jpg", fixture.EncodeJPEG(t, red))
		if err != nil {
			t.Fatal(err)
		}
		if v := out.GrayAt(8, 8).Y; v < 74 || v > 78 {
			t.Errorf("red JPEG: %d, want 76+-2", v)
		}
		if out.Rect != image.Rect(0, 0, 16, 16) {
			t.Errorf("bounds %v", out.Rect)
		}
	})
}

func TestDecodeGrayBadInput(t *testing.T) {
	jp := fixture.EncodeJPEG(t, image.NewGray(image.Rect(0, 0, 64, 64)))
	pn := fixture.EncodePNG(t, image.NewGray(image.Rect(0, 0, 64, 64)))
	corrupt := bytes.Clone(jp)
	for i := len(corrupt) / 2; i < len(corrupt)-2; i++ {
		corrupt[i] = 0xFF
	}
	tests := []struct {
		name, want string
		data       []byte
	}{
		{"empty", "not a JPEG or PNG", nil},
		{"text", "not a JPEG or PNG", []byte("hello")},
		{"truncated JPEG header", "corrupt JPEG", jp[:20]},
		{"truncated JPEG body", "truncated", jp[:len(jp)/2]},
		{"corrupt JPEG", "corrupt JPEG", corrupt},
		{"truncated PNG", "corrupt PNG", pn[:len(pn)-20]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeGray("img/x.jpg", tt.data)
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "img/x.jpg") {
				t.Errorf("error %v, want one naming img/x.jpg and saying %q", err, tt.want)
			}
		})
	}
}

func TestDecodeImageSize(t *testing.T) {
	w, h, err := DecodeSize("x.png", fixture.EncodePNG(t, image.NewGray(image.Rect(0, 0, 7, 5))))
	if err != nil || w != 7 || h != 5 {
		t.Errorf("got %d x %d, %v; want 7 x 5", w, h, err)
	}
	// A PNG header that claims 40000 x 40000 px is refused before any
	// allocation.
	big := fixture.EncodePNG(t, image.NewGray(image.Rect(0, 0, 1, 1)))
	big = bytes.Clone(big)
	copy(big[16:24], []byte{0, 0, 0x9c, 0x40, 0, 0, 0x9c, 0x40}) // IHDR width, height
	binary.BigEndian.PutUint32(big[29:33], crc32.ChecksumIEEE(big[12:29]))
	if _, err := DecodeGray("big.png", big); err == nil || !strings.Contains(err.Error(), "40000x40000 is too large") {
		t.Errorf("error %v for a 40000x40000 header, want too large", err)
	}
}
