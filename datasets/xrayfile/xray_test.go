package xrayfile

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func pngOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func gray16Of(w, h int, vals ...uint16) *image.Gray16 {
	g := image.NewGray16(image.Rect(0, 0, w, h))
	for i, v := range vals {
		g.SetGray16(i%w, i/w, color.Gray16{Y: v})
	}
	return g
}

// compactPix is an image's pixels row after row, without the stride's gaps.
func compactPix(g *image.Gray) []uint8 {
	b := g.Bounds()
	out := make([]uint8, 0, b.Dx()*b.Dy())
	for y := b.Min.Y; y < b.Max.Y; y++ {
		i := g.PixOffset(b.Min.X, y)
		out = append(out, g.Pix[i:i+b.Dx()]...)
	}
	return out
}

// JPEG and 8-bit PNG files read as DecodeGray reads them.
func TestDecodeXrayImagesAsDecodeGray(t *testing.T) {
	rgba := image.NewRGBA(image.Rect(0, 0, 5, 3))
	nrgba := image.NewNRGBA(image.Rect(0, 0, 5, 3))
	for i := range rgba.Pix {
		rgba.Pix[i] = uint8(i*37 + 11)
		nrgba.Pix[i] = uint8(i*53 + 7)
	}
	for i := 3; i < len(rgba.Pix); i += 4 {
		rgba.Pix[i] = 255
	}
	pal := image.NewPaletted(image.Rect(0, 0, 4, 2), color.Palette{color.Black, color.RGBA{200, 30, 90, 255}, color.White})
	for i := range pal.Pix {
		pal.Pix[i] = uint8(i % 3)
	}
	cases := []struct {
		name        string
		data        []byte
		format      string
		photometric string
		bits        int
	}{
		{"gray JPEG", jpegOf(t, gradient(false)), "jpeg", "GRAY", 8},
		{"colour JPEG", jpegOf(t, rgba), "jpeg", "RGB", 8},
		{"gray PNG", pngOf(t, gradient(true)), "png", "GRAY", 8},
		{"RGB PNG", pngOf(t, rgba), "png", "RGB", 8},
		{"RGBA PNG", pngOf(t, nrgba), "png", "RGB", 8},
		{"paletted PNG", pngOf(t, pal), "png", "RGB", 2},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			want, err := DecodeGray("a", c.data)
			if err != nil {
				t.Fatal(err)
			}
			x, err := Decode("a", c.data, Options{})
			if err != nil {
				t.Fatal(err)
			}
			w, h := want.Bounds().Dx(), want.Bounds().Dy()
			checkGray(t, x.Image, w, h, compactPix(want), 0)
			if x.Format != c.format || x.Photometric != c.photometric || x.BitsStored != c.bits {
				t.Errorf("format %q photometric %q bits %d, want %q %q %d", x.Format, x.Photometric, x.BitsStored, c.format, c.photometric, c.bits)
			}
			if x.Modality != "" || x.BodyPart != "" || x.TransferSyntax != "" || len(x.Notes) != 0 {
				t.Errorf("DICOM fields or notes set: %+v", x)
			}
		})
	}
}

// The RGB DICOM test image gives the pixels DecodeGray gives the same
// pixels as a PNG.
func TestDecodeDICOMRGBAsDecodeGray(t *testing.T) {
	rgb := []byte{255, 0, 0, 0, 255, 0, 0, 0, 255, 100, 150, 200, 7, 77, 177, 250, 1, 128}
	img := image.NewRGBA(image.Rect(0, 0, 3, 2))
	for i := 0; i < 6; i++ {
		copy(img.Pix[4*i:], rgb[3*i:3*i+3])
		img.Pix[4*i+3] = 255
	}
	want, err := DecodeGray("a.png", pngOf(t, img))
	if err != nil {
		t.Fatal(err)
	}
	x, err := Decode("a.dcm", dcmFile(tsExplicitLE, append(xrayAttrs(2, 3, 8, 8, 0, "RGB", dUS(0x0028, 0x0002, 3), dUS(0x0028, 0x0006, 0)), pix8(rgb...))), Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkGray(t, x.Image, 3, 2, compactPix(want), 0)
}

func TestDecodeXray16BitPNG(t *testing.T) {
	// 112..3990 to 0..255: (v-112)*255/3878, so 2051 -> 127.5 -> 128 and
	// 1000 -> 58.39 -> 58.
	x, err := Decode("a.png", pngOf(t, gray16Of(2, 2, 112, 3990, 2051, 1000)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkGray(t, x.Image, 2, 2, []uint8{0, 255, 128, 58}, 0)
	if x.BitsStored != 16 || x.Photometric != "GRAY" || !slices.Equal(x.Notes, []string{"16-bit PNG windowed to its range 112..3990"}) {
		t.Errorf("%+v", x)
	}
	// DecodeGray keeps the high byte: a 12-bit image would be dark.
	if g, _ := DecodeGray("a.png", pngOf(t, gray16Of(2, 2, 112, 3990, 2051, 1000))); g.Pix[1] != 3990>>8 {
		t.Errorf("DecodeGray changed: %v", g.Pix)
	}
	// Constant: all 0.
	x, err = Decode("c.png", pngOf(t, gray16Of(3, 1, 500, 500, 500)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkGray(t, x.Image, 3, 1, []uint8{0, 0, 0}, 0)
	if len(x.Notes) != 1 || !strings.Contains(x.Notes[0], "constant") {
		t.Errorf("notes %q", x.Notes)
	}
}

func TestDecodeXrayBadInput(t *testing.T) {
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "x: not a JPEG, PNG or DICOM file (0 bytes)"},
		{"text", []byte("hello, world"), "x: not a JPEG, PNG or DICOM file (12 bytes)"},
		{"truncated PNG", pngOf(t, gradient(false))[:40], "x: corrupt PNG"},
		{"truncated JPEG", jpegOf(t, gradient(false))[:100], "x: corrupt JPEG"},
		{"huge PNG", func() []byte {
			b := pngOf(t, gradient(false))
			binary.BigEndian.PutUint32(b[16:], 1<<20) // IHDR width
			binary.BigEndian.PutUint32(b[29:], crc32.ChecksumIEEE(b[12:29]))
			return b
		}(), "x: image 1048576x16 is too large"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Decode("x", c.data, Options{})
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want %q", err, c.want)
			}
		})
	}
}

func TestReadXray(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "a.jpg") // the extension does not matter
	if err := os.WriteFile(p, dcmFile(tsExplicitLE, win12Dataset()), 0o644); err != nil {
		t.Fatal(err)
	}
	x, err := Read(p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	checkGray(t, x.Image, 4, 2, win12Want, 0)
	if _, err := Read(filepath.Join(dir, "missing.dcm"), Options{}); err == nil || !strings.Contains(err.Error(), "missing.dcm") {
		t.Errorf("missing file: %v", err)
	}
	bad := filepath.Join(dir, "bad.dcm")
	if err := os.WriteFile(bad, dcmFile(tsExplicitLE, xrayAttrs(2, 2, 8, 8, 0, "MONOCHROME2")), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Read(bad, Options{}); err == nil || !strings.HasPrefix(err.Error(), bad+": no pixel data") {
		t.Errorf("no pixel data: %v", err)
	}
}

// claimsLargeImage reports whether data holds what could be a JPEG frame
// header or PNG header of more than 1<<20 pixels: the decoders allocate the
// image from it, which is right for Decode but slow for a fuzz target.
func claimsLargeImage(data []byte) bool {
	if w, h, err := DecodeSize("f", data); err == nil && w*h > 1<<20 {
		return true
	}
	for i := 0; i+9 <= len(data); i++ {
		if data[i] != 0xFF || data[i+1] < 0xC0 || data[i+1] > 0xCF || data[i+1] == 0xC4 || data[i+1] == 0xC8 || data[i+1] == 0xCC {
			continue
		}
		h, w := int(binary.BigEndian.Uint16(data[i+5:])), int(binary.BigEndian.Uint16(data[i+7:]))
		if w*h > 1<<20 {
			return true
		}
	}
	return false
}

func FuzzDecodeXray(f *testing.F) {
	j := jpegOf(f, gradient(false))
	f.Add(dcmFile(tsExplicitLE, append(xrayAttrs(2, 2, 8, 8, 0, "MONOCHROME2"), pix8(10, 20, 30, 40))))
	f.Add(dcmFile(tsExplicitLE, append(xrayAttrs(1, 6, 16, 16, 1, "MONOCHROME1", cat(rescale("1", "-1024"), window("40", "400"))...), pix16(1, 2, 3, 4, 5, 6))))
	f.Add(dcmFile(tsImplicitLE, win12Dataset()))
	f.Add(dcmFile(tsExplicitBE, win12Dataset()))
	f.Add(dcmFile(tsDeflated, win12Dataset()))
	f.Add(dcmFile(tsExplicitLE, append(xrayAttrs(1, 5, 16, 16, 0, "MONOCHROME2", voiLUT([3]uint16{3, 10, 16}, dUS(0, 0, 0, 32768, 65535))), pix16(9, 10, 11, 12, 13))))
	f.Add(dcmFile(tsExplicitLE, append(xrayAttrs(2, 2, 8, 8, 0, "RGB", dUS(0x0028, 0x0002, 3), dUS(0x0028, 0x0006, 1)), pix8(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12))))
	f.Add(jpegDataset(16, 16, "MONOCHROME2", dEncaps(j[:300], j[300:])))
	f.Add(dcmFile(tsJPEG2000, append(xrayAttrs(2, 2, 8, 8, 0, "MONOCHROME2"), dEncaps([]byte{1, 2}))))
	f.Add(syntaxOf(tsImplicitLE).dcmEncode(win12Dataset()))
	f.Add(j)
	f.Add(pngOf(f, gray16Of(2, 2, 112, 3990, 2051, 1000)))
	f.Fuzz(func(t *testing.T, data []byte) {
		if claimsLargeImage(data) {
			return
		}
		x, err := Decode("f.dcm", data, Options{AnyModality: true})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "f.dcm: ") {
				t.Fatalf("error does not name the file: %v", err)
			}
			return
		}
		b := x.Image.Bounds()
		if b.Min != (image.Point{}) || b.Empty() || len(x.Image.Pix) < (b.Dy()-1)*x.Image.Stride+b.Dx() {
			t.Fatalf("image bounds %v stride %d, %d bytes", b, x.Image.Stride, len(x.Image.Pix))
		}
		if x.Format != "jpeg" && x.Format != "png" && x.Format != "dicom" {
			t.Fatalf("format %q", x.Format)
		}
		// Without AnyModality: the same image or a refusal.
		y, err := Decode("f.dcm", data, Options{})
		if err == nil && !bytes.Equal(y.Image.Pix, x.Image.Pix) {
			t.Fatalf("AnyModality changed the pixels")
		}
	})
}
