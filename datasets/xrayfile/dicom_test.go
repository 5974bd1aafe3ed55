package xrayfile

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"math/rand"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/frame"
	"github.com/suyashkumar/dicom/pkg/tag"
)

// The test files are encoded here by hand (dcmEl, dcmEncode, dcmFile), not
// with the code under test, and the expected pixels are worked out in the
// comments.

// Transfer syntax UIDs of the test files.
const (
	tsImplicitLE = "1.2.840.10008.1.2"
	tsExplicitLE = "1.2.840.10008.1.2.1"
	tsExplicitBE = "1.2.840.10008.1.2.2"
	tsDeflated   = "1.2.840.10008.1.2.1.99"
	tsJPEG2000   = "1.2.840.10008.1.2.4.90"
)

// dcmEl is one element of a test DICOM file.
type dcmEl struct {
	g, e  uint16
	vr    string
	enc   func(bo binary.AppendByteOrder) []byte // value, unpadded
	items [][]dcmEl                              // SQ items
	frags [][]byte                               // encapsulated value: offset table, then fragments
	// undefined writes a sequence and its items with undefined lengths.
	undefined bool
}

func dStr(g, e uint16, vr, s string) dcmEl {
	return dcmEl{g: g, e: e, vr: vr, enc: func(binary.AppendByteOrder) []byte { return []byte(s) }}
}

func dUS(g, e uint16, vals ...uint16) dcmEl { return dWords(g, e, "US", vals...) }
func dOW(g, e uint16, vals ...uint16) dcmEl { return dWords(g, e, "OW", vals...) }

func dWords(g, e uint16, vr string, vals ...uint16) dcmEl {
	return dcmEl{g: g, e: e, vr: vr, enc: func(bo binary.AppendByteOrder) []byte {
		var b []byte
		for _, v := range vals {
			b = bo.AppendUint16(b, v)
		}
		return b
	}}
}

func dOB(g, e uint16, b []byte) dcmEl {
	return dcmEl{g: g, e: e, vr: "OB", enc: func(binary.AppendByteOrder) []byte { return b }}
}

func dSeq(g, e uint16, items ...[]dcmEl) dcmEl { return dcmEl{g: g, e: e, vr: "SQ", items: items} }

// dEncaps is encapsulated Pixel Data: an empty offset table, then frags.
func dEncaps(frags ...[]byte) dcmEl {
	return dcmEl{g: 0x7fe0, e: 0x0010, vr: "OB", frags: append([][]byte{nil}, frags...)}
}

// dcmSyntax is how a data set is encoded.
type dcmSyntax struct {
	bo       binary.AppendByteOrder
	implicit bool
}

var explicitLE = dcmSyntax{bo: binary.LittleEndian}

func syntaxOf(ts string) dcmSyntax {
	switch ts {
	case tsImplicitLE:
		return dcmSyntax{bo: binary.LittleEndian, implicit: true}
	case tsExplicitBE:
		return dcmSyntax{bo: binary.BigEndian}
	}
	return explicitLE
}

// dcmEncode encodes elements in tag order.
func (sx dcmSyntax) dcmEncode(els []dcmEl) []byte {
	els = slices.Clone(els)
	slices.SortStableFunc(els, func(a, b dcmEl) int {
		return int(uint32(a.g)<<16|uint32(a.e)) - int(uint32(b.g)<<16|uint32(b.e))
	})
	var b []byte
	for _, el := range els {
		b = sx.appendEl(b, el)
	}
	return b
}

func (sx dcmSyntax) appendTag(b []byte, g, e uint16) []byte {
	return sx.bo.AppendUint16(sx.bo.AppendUint16(b, g), e)
}

func (sx dcmSyntax) appendEl(b []byte, el dcmEl) []byte {
	const undefined = 0xffffffff
	var val []byte
	vl := uint32(0)
	switch {
	case el.frags != nil:
		for _, f := range el.frags {
			if len(f)%2 == 1 {
				f = append(slices.Clip(f), 0) // fragments are even; JPEG ignores what follows EOI
			}
			val = sx.appendTag(val, 0xfffe, 0xe000)
			val = sx.bo.AppendUint32(val, uint32(len(f)))
			val = append(val, f...)
		}
		val = sx.appendTag(val, 0xfffe, 0xe0dd)
		val = sx.bo.AppendUint32(val, 0)
		vl = undefined
	case el.vr == "SQ":
		for _, it := range el.items {
			body := sx.dcmEncode(it)
			val = sx.appendTag(val, 0xfffe, 0xe000)
			if el.undefined {
				val = sx.bo.AppendUint32(val, undefined)
				val = append(val, body...)
				val = sx.appendTag(val, 0xfffe, 0xe00d)
				val = sx.bo.AppendUint32(val, 0)
			} else {
				val = sx.bo.AppendUint32(val, uint32(len(body)))
				val = append(val, body...)
			}
		}
		if el.undefined {
			val = sx.appendTag(val, 0xfffe, 0xe0dd)
			val = sx.bo.AppendUint32(val, 0)
			vl = undefined
		} else {
			vl = uint32(len(val))
		}
	default:
		val = el.enc(sx.bo)
		if len(val)%2 == 1 {
			pad := byte(' ')
			if el.vr == "UI" || el.vr == "OB" || el.vr == "UN" {
				pad = 0
			}
			val = append(val, pad)
		}
		vl = uint32(len(val))
	}
	b = sx.appendTag(b, el.g, el.e)
	switch {
	case sx.implicit:
		b = sx.bo.AppendUint32(b, vl)
	case slices.Contains([]string{"OB", "OW", "OF", "OD", "OL", "SQ", "UN", "UT", "UC", "UR"}, el.vr):
		b = append(b, el.vr...)
		b = append(b, 0, 0)
		b = sx.bo.AppendUint32(b, vl)
	default:
		b = append(b, el.vr...)
		b = sx.bo.AppendUint16(b, uint16(vl))
	}
	return append(b, val...)
}

// dcmMeta is a file meta group (explicit VR little endian) with its group
// length.
func dcmMeta(ts string) []byte {
	meta := explicitLE.dcmEncode([]dcmEl{
		dOB(0x0002, 0x0001, []byte{0, 1}),
		dStr(0x0002, 0x0002, "UI", "1.2.840.10008.5.1.4.1.1.1.1"), // Digital X-Ray Image Storage - For Presentation
		dStr(0x0002, 0x0003, "UI", "1.2.826.0.1.3680043.9.7433.1.1"),
		dStr(0x0002, 0x0010, "UI", ts),
	})
	gl := explicitLE.appendEl(nil, dcmEl{g: 0x0002, e: 0x0000, vr: "UL", enc: func(bo binary.AppendByteOrder) []byte {
		return bo.AppendUint32(nil, uint32(len(meta)))
	}})
	return append(gl, meta...)
}

// dcmFile is a DICOM file: preamble, "DICM", file meta group and the data set
// in syntax ts (deflated for the deflated syntax).
func dcmFile(ts string, els []dcmEl) []byte {
	body := syntaxOf(ts).dcmEncode(els)
	if ts == tsDeflated {
		var z bytes.Buffer
		w, _ := flate.NewWriter(&z, flate.BestCompression)
		w.Write(body)
		w.Close()
		body = z.Bytes()
	}
	b := make([]byte, 128)
	b = append(b, "DICM"...)
	b = append(b, dcmMeta(ts)...)
	return append(b, body...)
}

// xrayAttrs are the attributes of a test image, each overridable by extra
// elements with the same tag (later ones win).
func xrayAttrs(rows, cols, bitsAlloc, bitsStored, rep int, photometric string, extra ...dcmEl) []dcmEl {
	els := []dcmEl{
		dStr(0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.1.1"),
		dStr(0x0008, 0x0018, "UI", "1.2.826.0.1.3680043.9.7433.1.1"),
		dStr(0x0008, 0x0060, "CS", "DX"),
		dStr(0x0018, 0x0015, "CS", "CHEST"),
		dUS(0x0028, 0x0002, 1),
		dStr(0x0028, 0x0004, "CS", photometric),
		dUS(0x0028, 0x0010, uint16(rows)),
		dUS(0x0028, 0x0011, uint16(cols)),
		dUS(0x0028, 0x0100, uint16(bitsAlloc)),
		dUS(0x0028, 0x0101, uint16(bitsStored)),
		dUS(0x0028, 0x0102, uint16(bitsStored-1)),
		dUS(0x0028, 0x0103, uint16(rep)),
	}
	for _, x := range extra {
		els = slices.DeleteFunc(els, func(e dcmEl) bool { return e.g == x.g && e.e == x.e })
		if x.vr != "" {
			els = append(els, x)
		}
	}
	return els
}

// drop removes an attribute from xrayAttrs.
func drop(g, e uint16) dcmEl { return dcmEl{g: g, e: e} }

func pix8(b ...byte) dcmEl    { return dOB(0x7fe0, 0x0010, b) }
func pix16(v ...uint16) dcmEl { return dOW(0x7fe0, 0x0010, v...) }

func window(c, w string) []dcmEl {
	return []dcmEl{dStr(0x0028, 0x1050, "DS", c), dStr(0x0028, 0x1051, "DS", w)}
}

func rescale(slope, intercept string) []dcmEl {
	return []dcmEl{dStr(0x0028, 0x1053, "DS", slope), dStr(0x0028, 0x1052, "DS", intercept)}
}

// voiLUT is a VOI LUT Sequence of one item.
func voiLUT(desc [3]uint16, data dcmEl) dcmEl {
	data.g, data.e = 0x0028, 0x3006
	return dSeq(0x0028, 0x3010, []dcmEl{dUS(0x0028, 0x3002, desc[:]...), data})
}

func cat(parts ...[]dcmEl) []dcmEl { return slices.Concat(parts...) }

// i16 is the two's complement word of a signed value.
func i16(v int) uint16 { return uint16(int16(v)) }

// The 12-bit windowed image of several tests: Bits Stored 12 in 16, Window
// Center 1000, Width 201, so (PS3.3 C.11.2.1.2.1) x <= 1000-0.5-100 = 899.5
// gives 0, x > 1099.5 gives 255 and between y = ((x-999.5)/200+0.5)*255:
// 900 -> 0.6375 -> 1, 1000 -> 128.1375 -> 128, 1099 -> 254.3625 -> 254.
// 0xF3E8 has junk above bit 11: masked it is 1000.
var (
	win12Pixels = []uint16{0, 899, 900, 1000, 1099, 1100, 4095, 0xF3E8}
	win12Want   = []uint8{0, 0, 1, 128, 254, 255, 255, 128}
)

func win12Dataset(extra ...dcmEl) []dcmEl {
	return append(xrayAttrs(2, 4, 16, 12, 0, "MONOCHROME2", cat(window("1000", "201"), extra)...), pix16(win12Pixels...))
}

// gradient is a smooth 16x16 gray image (values 0..240) that JPEG keeps to
// within a level or two at quality 100.
func gradient(invert bool) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, 16, 16))
	for y := 0; y < 16; y++ {
		for x := 0; x < 16; x++ {
			v := uint8(8*x + 7*y)
			if invert {
				v = 240 - v
			}
			g.SetGray(x, y, color.Gray{Y: v})
		}
	}
	return g
}

func jpegOf(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 100}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// jpegDataset is an 8-bit MONOCHROME2 JPEG baseline image with an identity
// window (C=128, W=256: y = ((x-127.5)/255+0.5)*255 = x).
func jpegDataset(rows, cols int, photometric string, pixel dcmEl, extra ...dcmEl) []byte {
	els := xrayAttrs(rows, cols, 8, 8, 0, photometric, cat(window("128", "256"), extra)...)
	return dcmFile(tsJPEGBaseline, append(els, pixel))
}

func TestDecodeDICOMPixels(t *testing.T) {
	rgb := []byte{255, 0, 0, 0, 255, 0, 0, 0, 255, 100, 150, 200}
	planes := []byte{255, 0, 0, 100, 0, 255, 0, 150, 0, 0, 255, 200}
	// Rec. 601 weights as color.GrayModel computes them (16.16 fixed point on
	// 16-bit channels, then the high byte): red 76, green 150, blue 29,
	// (100,150,200) 141 (0.299*100 + 0.587*150 + 0.114*200 = 140.75 on 8
	// bits is 36172.9 on 16, whose high byte is 141).
	rgbWant := []uint8{76, 150, 29, 141}
	cases := []struct {
		name  string
		file  []byte
		size  image.Point
		want  []uint8
		notes []string
	}{{
		// 10..40 stretched to 0..255: (v-10)*255/30 = 0, 85, 170, 255.
		name:  "MONOCHROME2 8-bit stretched to its range",
		file:  dcmFile(tsExplicitLE, append(xrayAttrs(2, 2, 8, 8, 0, "MONOCHROME2"), pix8(10, 20, 30, 40))),
		size:  image.Pt(2, 2),
		want:  []uint8{0, 85, 170, 255},
		notes: []string{"no window: range 10..40 stretched to 0..255"},
	}, {
		name:  "MONOCHROME1 8-bit inverted",
		file:  dcmFile(tsExplicitLE, append(xrayAttrs(2, 2, 8, 8, 0, "MONOCHROME1"), pix8(10, 20, 30, 40))),
		size:  image.Pt(2, 2),
		want:  []uint8{255, 170, 85, 0},
		notes: []string{"no window: range 10..40 stretched to 0..255", "MONOCHROME1 inverted"},
	}, {
		name:  "12-bit unsigned with window",
		file:  dcmFile(tsExplicitLE, win12Dataset()),
		size:  image.Pt(4, 2),
		want:  win12Want,
		notes: []string{"window C=1000 W=201"},
	}, {
		// Multi-valued window: the first value.
		name:  "12-bit with two windows takes the first",
		file:  dcmFile(tsExplicitLE, win12Dataset(window(`1000\40`, `201\400`)...)),
		size:  image.Pt(4, 2),
		want:  win12Want,
		notes: []string{"window C=1000 W=201"},
	}, {
		// HU = stored - 1024; C=40, W=400: HU <= 40-0.5-199.5 = -160 gives 0,
		// HU > 239 gives 255, else ((HU-39.5)/399+0.5)*255:
		// -3024 -> 0; -160 -> 0; -159 -> 0.639 -> 1; 40 -> 127.82 -> 128;
		// 239 -> 255; 240 -> 255.
		name: "signed 16-bit with rescale and CT soft-tissue window",
		file: dcmFile(tsExplicitLE, append(xrayAttrs(1, 6, 16, 16, 1, "MONOCHROME2", cat(rescale("1", "-1024"), window("40", "400"))...),
			pix16(i16(-2000), 864, 865, 1064, 1263, 1264))),
		size:  image.Pt(6, 1),
		want:  []uint8{0, 0, 1, 128, 255, 255},
		notes: []string{"rescale slope 1 intercept -1024", "window C=40 W=400"},
	}, {
		// 12-bit signed: 0x0800 is -2048, 0xFFFF (sign-extended junk) is -1,
		// 0x07FF is 2047. Slope 2: -4096, -2, 0, 4094, stretched:
		// (v+4096)*255/8190 = 0, 127.47 -> 127, 127.53 -> 128, 255.
		name: "signed 12-bit sign-extended with slope 2",
		file: dcmFile(tsExplicitLE, append(xrayAttrs(2, 2, 16, 12, 1, "MONOCHROME2", rescale("2", "0")...),
			pix16(0x0800, 0xFFFF, 0x0000, 0x07FF))),
		size:  image.Pt(2, 2),
		want:  []uint8{0, 127, 128, 255},
		notes: []string{"rescale slope 2 intercept 0", "no window: range -4096..4094 stretched"},
	}, {
		// Bits Stored 8 at High Bit 11: the stored value is bits 4..11.
		// 0x0100 -> 16, 0xF0FF -> 0x0F = 15, 0x0FF0 -> 255, with the
		// identity window C=128 W=256.
		name: "High Bit above Bits Stored - 1",
		file: dcmFile(tsExplicitLE, append(xrayAttrs(1, 3, 16, 8, 0, "MONOCHROME2", cat(window("128", "256"), []dcmEl{dUS(0x0028, 0x0102, 11)})...),
			pix16(0x0100, 0xF0FF, 0x0FF0))),
		size: image.Pt(3, 1),
		want: []uint8{16, 15, 255},
	}, {
		// LUT of 3 entries from 10, 16 bits: 9 and 10 -> 0, 11 -> 32768 ->
		// 32768*255/65535 = 127.50 -> 128, 12 and 13 -> 65535 -> 255. The
		// window, which would make everything 255, is not used.
		name: "VOI LUT Sequence (US data) over a window",
		file: dcmFile(tsExplicitLE, append(xrayAttrs(1, 5, 16, 16, 0, "MONOCHROME2",
			cat(window("0", "1"), []dcmEl{voiLUT([3]uint16{3, 10, 16}, dUS(0, 0, 0, 32768, 65535))})...),
			pix16(9, 10, 11, 12, 13))),
		size:  image.Pt(5, 1),
		want:  []uint8{0, 0, 128, 255, 255},
		notes: []string{"VOI LUT (3 entries from 10, 16 bits)"},
	}, {
		// LUT of 4 entries from 0, 8 bits, OW data: 0 51 204 255 as they are;
		// MONOCHROME1 then inverts.
		name: "VOI LUT Sequence (OW data, undefined lengths) and MONOCHROME1",
		file: dcmFile(tsExplicitLE, append(xrayAttrs(1, 4, 8, 8, 0, "MONOCHROME1",
			func() dcmEl {
				s := voiLUT([3]uint16{4, 0, 8}, dOW(0, 0, 0, 51, 204, 255))
				s.undefined = true
				return s
			}()),
			pix8(3, 2, 1, 0))),
		size:  image.Pt(4, 1),
		want:  []uint8{0, 51, 204, 255},
		notes: []string{"VOI LUT (4 entries from 0, 8 bits)", "MONOCHROME1 inverted"},
	}, {
		name: "RGB planar configuration 0",
		file: dcmFile(tsExplicitLE, append(xrayAttrs(2, 2, 8, 8, 0, "RGB", dUS(0x0028, 0x0002, 3), dUS(0x0028, 0x0006, 0)),
			pix8(rgb...))),
		size: image.Pt(2, 2),
		want: rgbWant,
	}, {
		name: "RGB planar configuration 1",
		file: dcmFile(tsExplicitLE, append(xrayAttrs(2, 2, 8, 8, 0, "RGB", dUS(0x0028, 0x0002, 3), dUS(0x0028, 0x0006, 1)),
			pix8(planes...))),
		size: image.Pt(2, 2),
		want: rgbWant,
	}, {
		// YBR_FULL keeps Y: 10 and 200.
		name: "YBR_FULL",
		file: dcmFile(tsExplicitLE, append(xrayAttrs(1, 2, 8, 8, 0, "YBR_FULL", dUS(0x0028, 0x0002, 3), dUS(0x0028, 0x0006, 0)),
			pix8(10, 128, 128, 200, 0, 255))),
		size: image.Pt(2, 1),
		want: []uint8{10, 200},
	}, {
		// Frame 1 is 10, 40 -> 0, 255; the other frames would give 255, 0.
		name: "first of 3 frames",
		file: dcmFile(tsExplicitLE, append(xrayAttrs(1, 2, 8, 8, 0, "MONOCHROME2", dStr(0x0028, 0x0008, "IS", "3")),
			pix8(10, 40, 40, 10, 40, 10))),
		size:  image.Pt(2, 1),
		want:  []uint8{0, 255},
		notes: []string{"first of 3 frames"},
	}, {
		name:  "implicit VR little endian",
		file:  dcmFile(tsImplicitLE, win12Dataset()),
		size:  image.Pt(4, 2),
		want:  win12Want,
		notes: []string{"window C=1000 W=201"},
	}, {
		name: "explicit VR big endian",
		file: dcmFile(tsExplicitBE, win12Dataset()),
		size: image.Pt(4, 2),
		want: win12Want,
	}, {
		name:  "deflated explicit VR little endian",
		file:  dcmFile(tsDeflated, win12Dataset()),
		size:  image.Pt(4, 2),
		want:  win12Want,
		notes: []string{"inflated deflated data set"},
	}, {
		name:  "no preamble",
		file:  dcmFile(tsExplicitLE, win12Dataset())[132:],
		size:  image.Pt(4, 2),
		want:  win12Want,
		notes: []string{"no DICOM preamble"},
	}, {
		name:  "bare implicit VR data set",
		file:  syntaxOf(tsImplicitLE).dcmEncode(win12Dataset()),
		size:  image.Pt(4, 2),
		want:  win12Want,
		notes: []string{"no DICOM preamble", "no transfer syntax: assumed Implicit VR Little Endian"},
	}, {
		// Nested sequences of undefined length before the pixels.
		name: "sequences of undefined length",
		file: dcmFile(tsExplicitLE, win12Dataset(dcmEl{g: 0x0040, e: 0x0275, vr: "SQ", undefined: true, items: [][]dcmEl{
			{dStr(0x0040, 0x0007, "LO", "CHEST PA"), dcmEl{g: 0x0040, e: 0x0008, vr: "SQ", undefined: true, items: [][]dcmEl{{dStr(0x0008, 0x0100, "SH", "X")}}}},
			{dStr(0x0040, 0x0007, "LO", "CHEST LAT")},
		}})),
		size: image.Pt(4, 2),
		want: win12Want,
	}}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x, err := Decode("x.dcm", c.file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			checkGray(t, x.Image, c.size.X, c.size.Y, c.want, 0)
			if x.Format != "dicom" {
				t.Errorf("Format %q", x.Format)
			}
			for _, n := range c.notes {
				if !slices.ContainsFunc(x.Notes, func(s string) bool { return strings.Contains(s, n) }) {
					t.Errorf("notes %q lack %q", x.Notes, n)
				}
			}
		})
	}
}

// checkGray checks an image's size and pixels, each within tol.
func checkGray(t *testing.T, g *image.Gray, w, h int, want []uint8, tol int) {
	t.Helper()
	if g == nil || g.Bounds() != image.Rect(0, 0, w, h) {
		t.Fatalf("image %v, want %dx%d from (0,0)", g, w, h)
	}
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			got, want := int(g.GrayAt(x, y).Y), int(want[y*w+x])
			if got < want-tol || got > want+tol {
				t.Errorf("pixel (%d,%d) = %d, want %d (±%d)", x, y, got, want, tol)
			}
		}
	}
}

func TestDecodeDICOMAttributes(t *testing.T) {
	x, err := Decode("x.dcm", dcmFile(tsExplicitBE, win12Dataset()), Options{})
	if err != nil {
		t.Fatal(err)
	}
	want := Xray{Format: "dicom", BitsStored: 12, Photometric: "MONOCHROME2", Modality: "DX", BodyPart: "CHEST", TransferSyntax: tsExplicitBE}
	x.Image, x.Notes = nil, nil
	if fmt.Sprint(*x) != fmt.Sprint(want) {
		t.Errorf("got %+v\nwant %+v", *x, want)
	}
}

// The library's own writer makes a file Decode reads.
func TestDecodeDICOMFromLibraryWriter(t *testing.T) {
	el := func(tg tag.Tag, v any) *dicom.Element {
		e, err := dicom.NewElement(tg, v)
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	nf := &frame.NativeFrame[uint8]{RawData: []uint8{10, 20, 30, 40}, InternalSamplesPerPixel: 1, InternalRows: 2, InternalCols: 2, InternalBitsPerSample: 8}
	ds := dicom.Dataset{Elements: []*dicom.Element{
		el(tag.MediaStorageSOPClassUID, []string{"1.2.840.10008.5.1.4.1.1.1.1"}),
		el(tag.MediaStorageSOPInstanceUID, []string{"1.2.3"}),
		el(tag.TransferSyntaxUID, []string{tsExplicitLE}),
		el(tag.Modality, []string{"CR"}),
		el(tag.SamplesPerPixel, []int{1}),
		el(tag.PhotometricInterpretation, []string{"MONOCHROME1"}),
		el(tag.Rows, []int{2}),
		el(tag.Columns, []int{2}),
		el(tag.BitsAllocated, []int{8}),
		el(tag.BitsStored, []int{8}),
		el(tag.HighBit, []int{7}),
		el(tag.PixelRepresentation, []int{0}),
		el(tag.PixelData, dicom.PixelDataInfo{Frames: []*frame.Frame{{NativeData: nf}}}),
	}}
	var b bytes.Buffer
	if err := dicom.Write(&b, ds); err != nil {
		t.Fatal(err)
	}
	x, err := Decode("w.dcm", b.Bytes(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Stretched 0, 85, 170, 255, then inverted.
	checkGray(t, x.Image, 2, 2, []uint8{255, 170, 85, 0}, 0)
}

func TestDecodeDICOMJPEG(t *testing.T) {
	src, inv := gradient(false), gradient(true)
	j, jinv := jpegOf(t, src), jpegOf(t, inv)
	half := len(j) / 2 &^ 1 // fragments have even lengths
	rgbImg := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range rgbImg.Pix {
		rgbImg.Pix[i] = uint8(i * 7)
	}
	jrgb := jpegOf(t, rgbImg)
	wantRGB, err := DecodeGray("rgb.jpg", jrgb)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		file  []byte
		want  *image.Gray
		tol   int
		notes []string
	}{
		{"one fragment", jpegDataset(16, 16, "MONOCHROME2", dEncaps(j)), src, 2, []string{"window C=128 W=256"}},
		{"two fragments", jpegDataset(16, 16, "MONOCHROME2", dEncaps(j[:half], j[half:])), src, 2, nil},
		{"first of 2 frames", jpegDataset(16, 16, "MONOCHROME2", dEncaps(j, jinv), dStr(0x0028, 0x0008, "IS", "2")), src, 2, []string{"first of 2 frames"}},
		{"first of 2 frames in 3 fragments", jpegDataset(16, 16, "MONOCHROME2", dEncaps(j[:half], j[half:], jinv), dStr(0x0028, 0x0008, "IS", "2")), src, 2, nil},
		{"MONOCHROME1", jpegDataset(16, 16, "MONOCHROME1", dEncaps(j)), inv, 2, []string{"MONOCHROME1 inverted"}},
		// A colour JPEG gives its luma plane, as DecodeGray does.
		{"YBR_FULL_422 colour", jpegDataset(16, 16, "YBR_FULL_422", dEncaps(jrgb), dUS(0x0028, 0x0002, 3)), wantRGB, 0, []string{"colour JPEG"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x, err := Decode("j.dcm", c.file, Options{})
			if err != nil {
				t.Fatal(err)
			}
			// MONOCHROME1 of the gradient is 240-v, the inverted gradient:
			// 255-v after the identity window, so shift by 15.
			want := compactPix(c.want)
			if c.name == "MONOCHROME1" {
				want = slices.Clone(want)
				for i := range want {
					want[i] += 15
				}
			}
			checkGray(t, x.Image, 16, 16, want, c.tol)
			for _, n := range c.notes {
				if !slices.ContainsFunc(x.Notes, func(s string) bool { return strings.Contains(s, n) }) {
					t.Errorf("notes %q lack %q", x.Notes, n)
				}
			}
		})
	}
}

func TestDecodeDICOMRefuses(t *testing.T) {
	good := xrayAttrs(2, 2, 8, 8, 0, "MONOCHROME2")
	px := pix8(10, 20, 30, 40)
	with := func(extra ...dcmEl) []byte {
		return dcmFile(tsExplicitLE, append(xrayAttrs(2, 2, 8, 8, 0, "MONOCHROME2", extra...), px))
	}
	compressed := func(ts string) []byte {
		return dcmFile(ts, append(slices.Clone(good), dEncaps([]byte{0xff, 0x4f, 0xff, 0x51})))
	}
	cases := []struct {
		name string
		file []byte
		opt  Options
		want []string // substrings of the error
	}{
		{"JPEG 2000", compressed(tsJPEG2000), Options{}, []string{"x.dcm: ", "JPEG 2000", "(1.2.840.10008.1.2.4.90)", "is not supported", "gdcmconv --raw"}},
		{"JPEG 2000 lossy", compressed("1.2.840.10008.1.2.4.91"), Options{}, []string{"x.dcm: ", "JPEG 2000 Image Compression (1.2.840.10008.1.2.4.91)"}},
		{"JPEG lossless", compressed("1.2.840.10008.1.2.4.70"), Options{}, []string{"JPEG Lossless", "(1.2.840.10008.1.2.4.70)", "dcmdjpeg"}},
		{"JPEG lossless process 14", compressed("1.2.840.10008.1.2.4.57"), Options{}, []string{"JPEG Lossless, Non-Hierarchical (Process 14)", "dcmdjpeg"}},
		{"JPEG-LS", compressed("1.2.840.10008.1.2.4.80"), Options{}, []string{"JPEG-LS Lossless", "(1.2.840.10008.1.2.4.80)", "dcmdjpls"}},
		{"RLE", compressed("1.2.840.10008.1.2.5"), Options{}, []string{"RLE Lossless (1.2.840.10008.1.2.5)", "dcmdrle"}},
		{"unknown syntax", compressed("1.2.3.4.5"), Options{}, []string{"x.dcm: transfer syntax unknown transfer syntax (1.2.3.4.5) is not supported"}},
		{"CT", with(dStr(0x0008, 0x0060, "CS", "CT")), Options{}, []string{"x.dcm: Modality CT is not a chest radiograph; pass AnyModality (opacity analyze --any-modality) to analyse it anyway"}},
		{"MR", with(dStr(0x0008, 0x0060, "CS", "MR")), Options{}, []string{"Modality MR is not a chest radiograph"}},
		{"MG", with(dStr(0x0008, 0x0060, "CS", "MG")), Options{}, []string{"Modality MG is not a chest radiograph"}},
		{"hand", with(dStr(0x0018, 0x0015, "CS", "HAND")), Options{}, []string{"x.dcm: Body Part Examined HAND is not the chest", "AnyModality"}},
		{"knee", with(dStr(0x0018, 0x0015, "CS", "KNEE")), Options{}, []string{"Body Part Examined KNEE"}},
		{"no pixel data", dcmFile(tsExplicitLE, good), Options{}, []string{"x.dcm: no pixel data (Pixel Data element absent)"}},
		{"no pixel data, any modality", dcmFile(tsExplicitLE, good), Options{AnyModality: true}, []string{"no pixel data"}},
		{"no rows", with(drop(0x0028, 0x0010)), Options{}, []string{"x.dcm: ", "Rows or Columns absent"}},
		{"too wide", with(dUS(0x0028, 0x0011, 65535)), Options{}, []string{"x.dcm: ", "too large"}},
		{"too many pixels", with(dUS(0x0028, 0x0010, 30000), dUS(0x0028, 0x0011, 30000)), Options{}, []string{"x.dcm: ", "too large"}},
		{"pixel data short", with(dUS(0x0028, 0x0010, 100), dUS(0x0028, 0x0011, 100)), Options{}, []string{"x.dcm: Pixel Data has 4 bytes, fewer than one 100x100 frame"}},
		{"zero rows", with(dUS(0x0028, 0x0010, 0)), Options{}, []string{"x.dcm: empty image"}},
		{"32-bit", with(dUS(0x0028, 0x0100, 32)), Options{}, []string{"x.dcm: Bits Allocated 32 is not supported"}},
		{"4 samples", with(dUS(0x0028, 0x0002, 4)), Options{}, []string{"x.dcm: Samples per Pixel 4 is not supported"}},
		{"bits stored over allocated", with(dUS(0x0028, 0x0101, 9)), Options{}, []string{"x.dcm: Bits Stored 9"}},
		{"palette", with(dStr(0x0028, 0x0004, "CS", "PALETTE COLOR")), Options{}, []string{"x.dcm: ", `"PALETTE COLOR" is not supported`}},
		{"RGB with one sample", with(dStr(0x0028, 0x0004, "CS", "RGB")), Options{}, []string{"x.dcm: RGB with 1 samples per pixel"}},
		{"rows not a number", with(dStr(0x0028, 0x0010, "IS", "abc")), Options{}, []string{"x.dcm: ", "Rows is not an integer"}},
		{"JPEG that is not", jpegDataset(2, 2, "MONOCHROME2", dEncaps([]byte("not a jpeg"))), Options{}, []string{"x.dcm: frame 1 is not a JPEG stream"}},
		{"JPEG without fragments", jpegDataset(2, 2, "MONOCHROME2", dEncaps()), Options{}, []string{"x.dcm: frame 1 is not a JPEG stream"}},
		{"JPEG truncated", jpegDataset(16, 16, "MONOCHROME2", dEncaps(jpegOf(t, gradient(false))[:200])), Options{}, []string{"x.dcm: frame 1: "}},
		{"JPEG syntax, native data", jpegDataset(2, 2, "MONOCHROME2", px), Options{}, []string{"x.dcm: corrupt DICOM: Pixel Data is not encapsulated"}},
		{"native syntax, encapsulated data", dcmFile(tsExplicitLE, append(slices.Clone(good), dEncaps(jpegOf(t, gradient(false))))), Options{}, []string{"x.dcm: corrupt DICOM: encapsulated Pixel Data"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			x, err := Decode("x.dcm", c.file, c.opt)
			if err == nil {
				t.Fatalf("decoded (%v), want an error", x.Notes)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

func TestDecodeDICOMModalityAndBodyPart(t *testing.T) {
	file := func(modality, bodyPart string) []byte {
		extra := []dcmEl{dStr(0x0008, 0x0060, "CS", modality), dStr(0x0018, 0x0015, "CS", bodyPart)}
		if modality == "-" {
			extra[0] = drop(0x0008, 0x0060)
		}
		if bodyPart == "-" {
			extra[1] = drop(0x0018, 0x0015)
		}
		return dcmFile(tsExplicitLE, append(xrayAttrs(2, 2, 8, 8, 0, "MONOCHROME2", extra...), pix8(10, 20, 30, 40)))
	}
	cases := []struct {
		modality, bodyPart string
		ok                 bool
	}{
		{"CR", "CHEST", true}, {"DX", "-", true}, {"-", "-", true}, {"dx", "chest", true},
		{"DR", "CHEST_PA", true}, {"RG", "Thorax", true}, {"OT", "LUNG", true}, {"DX", "TÓRAX", true}, {"CR", "TORAX", true},
		{"CT", "CHEST", false}, {"MR", "CHEST", false}, {"US", "-", false}, {"PT", "CHEST", false}, {"NM", "-", false},
		{"XA", "CHEST", false}, {"RF", "CHEST", false},
		{"DX", "HAND", false}, {"CR", "KNEE", false}, {"DX", "ABDOMEN", false},
	}
	for _, c := range cases {
		f := file(c.modality, c.bodyPart)
		_, err := Decode("m.dcm", f, Options{})
		if (err == nil) != c.ok {
			t.Errorf("Modality %s, Body Part %s: err %v, want ok=%v", c.modality, c.bodyPart, err, c.ok)
		}
		// AnyModality reads them all, with the same pixels.
		x, err := Decode("m.dcm", f, Options{AnyModality: true})
		if err != nil {
			t.Errorf("Modality %s, Body Part %s, AnyModality: %v", c.modality, c.bodyPart, err)
			continue
		}
		checkGray(t, x.Image, 2, 2, []uint8{0, 85, 170, 255}, 0)
		if want := strings.Trim(c.modality, "-"); x.Modality != want {
			t.Errorf("Modality %q, want %q", x.Modality, want)
		}
	}
}

// Truncated, corrupted and garbage files give errors naming the file, never
// a panic.
func TestDecodeDICOMBadInput(t *testing.T) {
	files := [][]byte{
		dcmFile(tsExplicitLE, append(xrayAttrs(1, 6, 16, 16, 1, "MONOCHROME2", cat(rescale("1", "-1024"), window("40", "400"))...), pix16(1, 2, 3, 4, 5, 6))),
		dcmFile(tsImplicitLE, win12Dataset()),
		dcmFile(tsExplicitBE, win12Dataset()),
		dcmFile(tsDeflated, win12Dataset()),
		jpegDataset(16, 16, "MONOCHROME2", dEncaps(jpegOf(t, gradient(false)))),
		dcmFile(tsExplicitLE, append(xrayAttrs(1, 4, 8, 8, 0, "MONOCHROME1", voiLUT([3]uint16{4, 0, 8}, dOW(0, 0, 0, 51, 204, 255))), pix8(3, 2, 1, 0))),
	}
	check := func(what string, data []byte) {
		t.Helper()
		defer func() {
			if r := recover(); r != nil {
				t.Fatalf("%s: panic %v", what, r)
			}
		}()
		x, err := Decode("t.dcm", data, Options{AnyModality: true})
		if err != nil {
			if !strings.HasPrefix(err.Error(), "t.dcm: ") {
				t.Errorf("%s: error does not name the file: %v", what, err)
			}
			return
		}
		if b := x.Image.Bounds(); b.Min != (image.Point{}) || b.Empty() {
			t.Errorf("%s: bounds %v", what, b)
		}
	}
	for fi, f := range files {
		// Every truncation is an error.
		for n := 0; n < len(f); n++ {
			if _, err := Decode("t.dcm", f[:n], Options{}); err == nil {
				t.Errorf("file %d cut to %d of %d bytes: no error", fi, n, len(f))
			}
		}
		// Every byte changed.
		for i := 128; i < len(f); i++ {
			for _, v := range []byte{0x00, 0xff, f[i] ^ 0x80, f[i] + 1} {
				g := slices.Clone(f)
				g[i] = v
				check(fmt.Sprintf("file %d byte %d = %#x", fi, i, v), g)
			}
		}
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 300; i++ {
		g := make([]byte, 132+rng.Intn(400))
		rng.Read(g)
		copy(g[128:], "DICM")
		if i%2 == 0 {
			g = append(dcmFile(tsExplicitLE, nil), g[132:]...)
		}
		check(fmt.Sprintf("random %d", i), g)
	}
	for _, g := range [][]byte{nil, []byte("DICM"), make([]byte, 132)} {
		if _, err := Decode("t.dcm", g, Options{}); err == nil || !strings.HasPrefix(err.Error(), "t.dcm: ") {
			t.Errorf("%q: error %v", g, err)
		}
	}
}

// Crafted lengths and nesting are refused before anything is allocated by
// them.
func TestDecodeDICOMCraftedLengths(t *testing.T) {
	head := dcmFile(tsExplicitLE, nil)
	implicitHead := dcmFile(tsImplicitLE, nil)
	le := binary.LittleEndian
	long := func(g, e uint16, vr string, vl uint32) []byte {
		b := le.AppendUint16(le.AppendUint16(nil, g), e)
		b = append(b, vr...)
		return le.AppendUint32(append(b, 0, 0), vl)
	}
	deep := slices.Clone(head)
	for i := 0; i < 5000; i++ {
		deep = append(deep, long(0x0040, 0x0275, "SQ", 0xffffffff)...)
		deep = le.AppendUint32(le.AppendUint16(le.AppendUint16(deep, 0xfffe), 0xe000), 0xffffffff)
	}
	cases := []struct {
		name string
		file []byte
		want string
	}{
		{"UT of 4 GB", append(slices.Clone(head), long(0x0010, 0x4000, "UT", 0xfffffff0)...), fmt.Sprintf("element (0010,4000) at byte %d: length 4294967280 runs past the end", len(head))},
		{"OB of 4 GB", append(slices.Clone(head), long(0x0009, 0x0010, "OB", 0xfffffff0)...), "runs past the end"},
		{"pixel data of 4 GB", append(slices.Clone(head), long(0x7fe0, 0x0010, "OW", 0xfffffff0)...), "runs past the end"},
		{"UN of undefined length that is no sequence", append(slices.Clone(head), long(0x0009, 0x0010, "UN", 0xffffffff)...), "truncated"},
		{"implicit string of 4 GB", append(slices.Clone(implicitHead), 0x10, 0x00, 0x10, 0x00, 0xf0, 0xff, 0xff, 0xff), "runs past the end"},
		{"implicit string of undefined length", append(slices.Clone(implicitHead), 0x10, 0x00, 0x10, 0x00, 0xff, 0xff, 0xff, 0xff), "undefined length"},
		{"fragment of 4 GB", append(append(slices.Clone(head), long(0x7fe0, 0x0010, "OB", 0xffffffff)...), 0xfe, 0xff, 0x00, 0xe0, 0xf0, 0xff, 0xff, 0xff), "fragment length"},
		{"sequences 5000 deep", deep, "nested more than"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var m0, m1 runtime.MemStats
			runtime.ReadMemStats(&m0)
			_, err := Decode("c.dcm", c.file, Options{})
			runtime.ReadMemStats(&m1)
			if err == nil || !strings.HasPrefix(err.Error(), "c.dcm: ") || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one naming c.dcm with %q", err, c.want)
			}
			if a := m1.TotalAlloc - m0.TotalAlloc; a > 16<<20 {
				t.Errorf("allocated %d bytes", a)
			}
		})
	}
}
