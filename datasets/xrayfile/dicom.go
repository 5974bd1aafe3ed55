package xrayfile

// DICOM reading for Decode. Parsing is github.com/suyashkumar/dicom's;
// this file adds what it lacks for untrusted files and for display:
//
//   - a structural pre-scan (dicomScanner) that walks the elements exactly as
//     the library's reader will and refuses any declared length that runs past
//     its container, undefined lengths where the library would allocate by
//     them, and sequences nested too deeply, so that a crafted length cannot
//     make the library allocate gigabytes or recurse without bound; panics the
//     library may still raise are recovered;
//   - a rebuilt file meta group (a fresh group length and a transfer syntax the
//     library can parse: deflated data sets are inflated here, with a size
//     limit, and a missing transfer syntax is inferred);
//   - the pixel pipeline of PS3.3 C.11 on the raw Pixel Data (the library is
//     told not to unpack it, so that Rows and Columns are checked here first).

import (
	"bytes"
	"compress/flate"
	"encoding/binary"
	"errors"
	"fmt"
	"image"
	"image/jpeg"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/suyashkumar/dicom"
	"github.com/suyashkumar/dicom/pkg/tag"
	"github.com/suyashkumar/dicom/pkg/uid"
)

const (
	// maxDICOMDepth bounds the nesting of sequences and items (real files
	// nest a handful deep).
	maxDICOMDepth = 64
	// maxDICOMInflated bounds the size of an inflated (deflated transfer
	// syntax) data set.
	maxDICOMInflated = 1 << 30
)

// Transfer syntaxes Decode decodes besides the native ones.
const (
	tsJPEGBaseline = "1.2.840.10008.1.2.4.50" // JPEG Baseline (Process 1)
	tsJPEGExtended = "1.2.840.10008.1.2.4.51" // JPEG Extended (Process 2 and 4); Go decodes 8-bit only
	tsRLE          = "1.2.840.10008.1.2.5"
)

// radiographModalities are the Modality values taken for a radiograph;
// absent or empty counts too.
var radiographModalities = map[string]bool{"": true, "CR": true, "DX": true, "DR": true, "RG": true, "OT": true}

// chestWords are the substrings of Body Part Examined (upper-cased) taken
// for the chest.
var chestWords = []string{"CHEST", "THORA", "TORAX", "TÓRAX", "LUNG"}

// decodeDICOM reads a DICOM file as an Xray (see Decode).
//
// Pixel pipeline for MONOCHROME1/2 (PS3.3 C.11, C.7.6.3.1): the stored value
// of each sample is taken from bits HighBit-BitsStored+1..HighBit and
// sign-extended when Pixel Representation is 1; the modality transform is the
// Modality LUT Sequence when present, else Rescale Slope/Intercept; the VOI
// transform is the first item of the VOI LUT Sequence when present (output
// scaled from its LUT bits to 0..255), else the first Window Center/Width
// value with VOI LUT Function LINEAR (C.11.2.1.2.1; the default),
// LINEAR_EXACT or SIGMOID, else a linear map of the frame's own min..max of
// modality values to 0..255 (a constant frame gives 0); MONOCHROME1 is then
// inverted (255 - v). Values are rounded to nearest.
//
// RGB (Planar Configuration 0 or 1) becomes gray with the weights DecodeGray
// uses (color.GrayModel: Rec. 601, 0.299 R + 0.587 G + 0.114 B), each
// channel first scaled from 0..2^BitsStored-1 to 16 bits; YBR_FULL keeps its
// Y. Multi-frame files give their first frame.
func decodeDICOM(name string, data []byte, opt Options) (*Xray, error) {
	f, err := prepareDICOM(name, data)
	if err != nil {
		return nil, err
	}
	ds, err := parseDICOM(f.data)
	if err != nil {
		return nil, fmt.Errorf("%s: corrupt DICOM: %v", name, readErr(err))
	}
	x := &Xray{Format: "dicom", TransferSyntax: f.ts, Notes: f.notes}
	x.Modality, _ = dcmString(&ds, tag.Modality)
	x.BodyPart, _ = dcmString(&ds, tag.BodyPartExamined)
	if !opt.AnyModality {
		if m := strings.ToUpper(x.Modality); !radiographModalities[m] {
			return nil, fmt.Errorf("%s: Modality %s is not a chest radiograph; pass AnyModality (opacity analyze --any-modality) to analyse it anyway", name, x.Modality)
		}
		if x.BodyPart != "" && !isChestBodyPart(x.BodyPart) {
			return nil, fmt.Errorf("%s: Body Part Examined %s is not the chest; pass AnyModality (opacity analyze --any-modality) to analyse it anyway", name, x.BodyPart)
		}
	}
	pd, err := ds.FindElementByTag(tag.PixelData)
	if err != nil {
		return nil, fmt.Errorf("%s: no pixel data (Pixel Data element absent)", name)
	}
	info, ok := pd.Value.GetValue().(dicom.PixelDataInfo)
	if !ok {
		return nil, fmt.Errorf("%s: corrupt DICOM: unreadable Pixel Data", name)
	}
	native := !f.encapsulatedSyntax
	if !native && f.ts != tsJPEGBaseline && f.ts != tsJPEGExtended {
		return nil, unsupportedSyntax(name, f.ts)
	}
	px, err := pixelAttributes(&ds)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	x.BitsStored, x.Photometric = px.bitsStored, px.photometric
	if px.frames > 1 {
		x.Notes = append(x.Notes, fmt.Sprintf("first of %d frames", px.frames))
	}
	switch {
	case native && info.IsEncapsulated:
		return nil, fmt.Errorf("%s: corrupt DICOM: encapsulated Pixel Data in native transfer syntax %s", name, f.ts)
	case native:
		img, notes, err := decodeNativePixels(&ds, px, info.UnprocessedValueData, f.bo, pd.RawValueRepresentation)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		x.Image = img
		x.Notes = append(x.Notes, notes...)
	case !info.IsEncapsulated:
		return nil, fmt.Errorf("%s: corrupt DICOM: Pixel Data is not encapsulated though the transfer syntax is JPEG", name)
	default:
		if x.BitsStored == 0 {
			x.BitsStored = 8
		}
		img, notes, err := decodeJPEGPixels(&ds, px, info)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		x.Image = img
		x.Notes = append(x.Notes, notes...)
	}
	return x, nil
}

// isChestBodyPart reports whether a Body Part Examined value names the chest.
func isChestBodyPart(bodyPart string) bool {
	u := strings.ToUpper(bodyPart)
	for _, w := range chestWords {
		if strings.Contains(u, w) {
			return true
		}
	}
	return false
}

// unsupportedSyntax is the error for a transfer syntax Decode cannot
// decode, with the tool that converts it.
func unsupportedSyntax(name, ts string) error {
	tsName := "unknown transfer syntax"
	if info, err := uid.Lookup(ts); err == nil {
		tsName = info.Name
	}
	hint := "GDCM: gdcmconv --raw in.dcm out.dcm"
	switch {
	case strings.HasPrefix(ts, "1.2.840.10008.1.2.4.8"):
		hint = "dcmtk: dcmdjpls in.dcm out.dcm, or GDCM: gdcmconv --raw in.dcm out.dcm"
	case ts == tsRLE:
		hint = "dcmtk: dcmdrle in.dcm out.dcm, or GDCM: gdcmconv --raw in.dcm out.dcm"
	case strings.HasPrefix(ts, "1.2.840.10008.1.2.4.5") || strings.HasPrefix(ts, "1.2.840.10008.1.2.4.6") || ts == "1.2.840.10008.1.2.4.70":
		hint = "dcmtk: dcmdjpeg in.dcm out.dcm, or GDCM: gdcmconv --raw in.dcm out.dcm"
	}
	return fmt.Errorf("%s: transfer syntax %s (%s) is not supported (supported: native, baseline JPEG); convert it first, e.g. with %s", name, tsName, ts, hint)
}

// dicomFile is a DICOM file made ready for the library's parser.
type dicomFile struct {
	data               []byte // preamble, "DICM", rebuilt file meta group, data set
	ts                 string // the file's transfer syntax UID (or the one assumed)
	bo                 binary.ByteOrder
	encapsulatedSyntax bool // a compressed transfer syntax (explicit VR little endian data set)
	notes              []string
}

// prepareDICOM reads the file meta group, rebuilds it for the parser (group
// length, parseable transfer syntax), inflates a deflated data set and
// pre-scans the data set. Its errors name the file.
func prepareDICOM(name string, data []byte) (*dicomFile, error) {
	corrupt := func(format string, a ...any) error {
		return fmt.Errorf("%s: corrupt DICOM: %s", name, fmt.Sprintf(format, a...))
	}
	f := &dicomFile{bo: binary.LittleEndian}
	pos := 0
	hasMeta := true
	switch {
	case len(data) >= 132 && string(data[128:132]) == "DICM":
		pos = 132
	default:
		start, ok := dicomStart(data)
		if !ok {
			return nil, fmt.Errorf("%s: not a DICOM file", name)
		}
		f.notes = append(f.notes, "no DICOM preamble")
		hasMeta = start == "meta"
	}
	// File meta group: explicit VR little endian, read while the group is
	// 0002 (its group length is not trusted: some writers get it wrong).
	meta := &dicomScanner{data: data, bo: binary.LittleEndian}
	var metaElems []dcmElement
	tsUID := ""
	for hasMeta && pos+2 <= len(data) && binary.LittleEndian.Uint16(data[pos:]) == 0x0002 {
		e, err := meta.element(pos, len(data), 0)
		if err != nil {
			return nil, corrupt("file meta group: %v", err)
		}
		if e.tag == tag.TransferSyntaxUID {
			if !dcmStringKind(tag.GetVRKind(e.tag, e.vr)) || e.undefined {
				return nil, corrupt("file meta group: Transfer Syntax UID has VR %s", e.vr)
			}
			tsUID = strings.Trim(string(data[e.value:e.end]), " \x00")
		}
		metaElems = append(metaElems, e)
		pos = e.end
	}
	body := data[pos:]
	if tsUID == "" {
		tsUID = uid.ImplicitVRLittleEndian
		if len(body) >= 6 && isDICOMVR(string(body[4:6])) {
			tsUID = uid.ExplicitVRLittleEndian
		}
		f.notes = append(f.notes, "no transfer syntax: assumed "+dcmSyntaxName(tsUID))
	}
	f.ts = tsUID
	parserTS := tsUID
	implicit := false
	switch tsUID {
	case uid.ImplicitVRLittleEndian:
		implicit = true
	case uid.ExplicitVRLittleEndian:
	case uid.ExplicitVRBigEndian:
		f.bo = binary.BigEndian
	case uid.DeflatedExplicitVRLittleEndian:
		inflated, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(body)), maxDICOMInflated+1))
		if err != nil {
			return nil, corrupt("deflated data set: %v", readErr(err))
		}
		if len(inflated) > maxDICOMInflated {
			return nil, fmt.Errorf("%s: deflated data set inflates to more than %d bytes", name, maxDICOMInflated)
		}
		body = inflated
		parserTS = uid.ExplicitVRLittleEndian
		f.notes = append(f.notes, "inflated deflated data set")
	default:
		info, err := uid.Lookup(tsUID)
		if err != nil || info.Type != uid.TypeTransferSyntax {
			return nil, unsupportedSyntax(name, tsUID)
		}
		// Compressed pixel data; the data set is explicit VR little endian.
		f.encapsulatedSyntax = true
	}

	// Rebuild: preamble, "DICM", group length, the meta elements (less the
	// group length and transfer syntax) with parserTS in tag order, data set.
	var metaBody bytes.Buffer
	tsElem := explicitLEString(tag.TransferSyntaxUID, "UI", parserTS)
	wroteTS := false
	for _, e := range metaElems {
		if e.tag == tag.FileMetaInformationGroupLength || e.tag == tag.TransferSyntaxUID {
			continue
		}
		if !wroteTS && e.tag.Element > tag.TransferSyntaxUID.Element {
			metaBody.Write(tsElem)
			wroteTS = true
		}
		metaBody.Write(data[e.start:e.end])
	}
	if !wroteTS {
		metaBody.Write(tsElem)
	}
	out := make([]byte, 0, 132+12+metaBody.Len()+len(body))
	out = append(out, make([]byte, 128)...)
	out = append(out, "DICM"...)
	out = append(out, 0x02, 0x00, 0x00, 0x00, 'U', 'L', 4, 0)
	out = binary.LittleEndian.AppendUint32(out, uint32(metaBody.Len()))
	out = append(out, metaBody.Bytes()...)
	bodyStart := len(out)
	out = append(out, body...)
	f.data = out

	// Pre-scan the data set as the parser will read it.
	s := &dicomScanner{data: out, bo: f.bo, implicit: implicit, base: pos - bodyStart}
	if tsUID == uid.DeflatedExplicitVRLittleEndian {
		s.base, s.inflated = -bodyStart, true
	}
	for p := bodyStart; p < len(out); {
		e, err := s.element(p, len(out), 0)
		if err != nil {
			return nil, corrupt("%v", err)
		}
		if e.tag == tag.SpecificCharacterSet && !dcmStringKind(tag.GetVRKind(e.tag, e.vr)) {
			return nil, corrupt("Specific Character Set has VR %s", e.vr)
		}
		p = e.end
	}
	return f, nil
}

// dcmSyntaxName is a transfer syntax's name, or its UID when unknown.
func dcmSyntaxName(ts string) string {
	if info, err := uid.Lookup(ts); err == nil {
		return info.Name
	}
	return ts
}

// explicitLEString encodes a string element in explicit VR little endian,
// padded to even length with a NUL (as a UI value is).
func explicitLEString(t tag.Tag, vr, s string) []byte {
	v := []byte(s)
	if len(v)%2 == 1 {
		v = append(v, 0)
	}
	b := binary.LittleEndian.AppendUint16(nil, t.Group)
	b = binary.LittleEndian.AppendUint16(b, t.Element)
	b = append(b, vr...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(v)))
	return append(b, v...)
}

// parseDICOM parses a prepared file with the library, leaving native Pixel
// Data as raw bytes, and turns a panic of the library into an error.
func parseDICOM(data []byte) (ds dicom.Dataset, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("the DICOM parser failed: %v", r)
		}
	}()
	return dicom.Parse(bytes.NewReader(data), int64(len(data)), nil,
		dicom.SkipProcessingPixelDataValue(), dicom.AllowUnknownSpecificCharacterSet())
}

// dcmElement is an element as the pre-scan saw it.
type dcmElement struct {
	tag        tag.Tag
	vr         string
	undefined  bool // undefined length
	start, end int  // the element's bytes
	value      int  // where its value starts
}

// dicomScanner walks the elements of a data set as github.com/suyashkumar/dicom
// v1.1.0 reads them (read.go: readElement, readSequence, readSequenceItem,
// readPixelData, readRawItem), but only checks lengths: every defined length
// must fit in its container (the element, item or sequence around it, or the
// file), undefined lengths only where the library reads items up to a
// delimiter, and nesting at most maxDICOMDepth. It is stricter than the
// library (it refuses a malformed encapsulated value the library would log
// and skip), never laxer, so the library never allocates more than the
// file's size for one value.
type dicomScanner struct {
	data     []byte
	bo       binary.ByteOrder
	implicit bool
	// base is what to add to a position in data for the byte of the file
	// it came from; inflated says data is an inflated data set.
	base     int
	inflated bool
}

// at describes a position in errors, as a byte of the file.
func (s *dicomScanner) at(pos int) string {
	if s.inflated {
		return fmt.Sprintf("byte %d of the inflated data set", pos+s.base)
	}
	return fmt.Sprintf("byte %d", pos+s.base)
}

// element walks the element at pos, which must end by end.
func (s *dicomScanner) element(pos, end, depth int) (dcmElement, error) {
	e := dcmElement{start: pos}
	if end-pos < 4 {
		return e, fmt.Errorf("truncated element at %s", s.at(pos))
	}
	e.tag = tag.Tag{Group: s.bo.Uint16(s.data[pos:]), Element: s.bo.Uint16(s.data[pos+2:])}
	pos += 4
	// The library reads an item's header as implicit VR in any syntax.
	implicit := s.implicit || e.tag == tag.Item
	if implicit {
		e.vr = implicitVR(e.tag)
	} else {
		if end-pos < 2 {
			return e, fmt.Errorf("truncated element %v at %s", e.tag, s.at(e.start))
		}
		e.vr = string(s.data[pos : pos+2])
		pos += 2
		// Delimiters have no VR: the library takes their length's first two
		// bytes (zero) for one.
		if !isDICOMVR(e.vr) && !(e.tag.Group == tag.GroupSeqItem && e.vr == "\x00\x00") {
			return e, fmt.Errorf("element %v at %s: invalid VR %q", e.tag, s.at(e.start), e.vr)
		}
	}
	var vl uint32
	switch {
	case implicit:
		if end-pos < 4 {
			return e, fmt.Errorf("truncated element %v at %s", e.tag, s.at(e.start))
		}
		vl = s.bo.Uint32(s.data[pos:])
		pos += 4
	case longLengthVR(e.vr):
		if end-pos < 6 {
			return e, fmt.Errorf("truncated element %v at %s", e.tag, s.at(e.start))
		}
		vl = s.bo.Uint32(s.data[pos+2:])
		pos += 6
	default:
		if end-pos < 2 {
			return e, fmt.Errorf("truncated element %v at %s", e.tag, s.at(e.start))
		}
		vl = uint32(s.bo.Uint16(s.data[pos:]))
		if vl == 0xffff {
			vl = tag.VLUndefinedLength
		}
		pos += 2
	}
	e.value = pos
	e.undefined = vl == tag.VLUndefinedLength
	if !e.undefined && int64(vl) > int64(end-pos) {
		return e, fmt.Errorf("element %v at %s: length %d runs past the end of its container (%d bytes left)", e.tag, s.at(e.start), vl, end-pos)
	}
	kind := tag.GetVRKind(e.tag, e.vr)
	if depth >= maxDICOMDepth && (kind == tag.VRItem || kind == tag.VRSequence || (kind == tag.VRUnknown && e.undefined)) {
		return e, fmt.Errorf("element %v at %s: sequences nested more than %d deep", e.tag, s.at(e.start), maxDICOMDepth)
	}
	var err error
	switch {
	case kind == tag.VRItem && e.undefined:
		for {
			var sub dcmElement
			if sub, err = s.element(pos, end, depth+1); err != nil {
				return e, err
			}
			pos = sub.end
			if sub.tag == tag.ItemDelimitationItem {
				break
			}
		}
	case kind == tag.VRItem:
		itemEnd := pos + int(vl)
		for pos < itemEnd {
			var sub dcmElement
			if sub, err = s.element(pos, itemEnd, depth+1); err != nil {
				return e, err
			}
			pos = sub.end
		}
	case kind == tag.VRSequence || (kind == tag.VRUnknown && e.undefined):
		pos, err = s.sequence(e, pos, end, vl, depth)
	case (kind == tag.VRPixelData || kind == tag.VRBytes) && e.undefined:
		pos, err = s.fragments(e, pos, end, kind == tag.VRPixelData)
	case e.undefined:
		err = fmt.Errorf("element %v at %s: undefined length for VR %s", e.tag, s.at(e.start), e.vr)
	default:
		pos += int(vl)
	}
	e.end = pos
	return e, err
}

// sequence walks the items of a sequence whose value starts at pos.
func (s *dicomScanner) sequence(e dcmElement, pos, end int, vl uint32, depth int) (int, error) {
	seqEnd := end
	if !e.undefined {
		seqEnd = pos + int(vl)
	}
	for e.undefined || pos < seqEnd {
		sub, err := s.element(pos, seqEnd, depth+1)
		if err != nil {
			return pos, err
		}
		pos = sub.end
		if e.undefined && sub.tag == tag.SequenceDelimitationItem {
			break
		}
		if sub.tag != tag.Item {
			return pos, fmt.Errorf("sequence %v at %s holds %v, not an item", e.tag, s.at(e.start), sub.tag)
		}
	}
	return pos, nil
}

// fragments walks the items of an encapsulated value (pixel data: a basic
// offset table and fragments) up to its sequence delimiter.
func (s *dicomScanner) fragments(e dcmElement, pos, end int, pixelData bool) (int, error) {
	for first := true; ; first = false {
		if end-pos < 8 {
			return pos, fmt.Errorf("encapsulated %v at %s: truncated (no sequence delimiter)", e.tag, s.at(e.start))
		}
		t := tag.Tag{Group: s.bo.Uint16(s.data[pos:]), Element: s.bo.Uint16(s.data[pos+2:])}
		vl := s.bo.Uint32(s.data[pos+4:])
		pos += 8
		// The library reads past a delimiter in place of the basic offset
		// table, so one is refused there.
		if t == tag.SequenceDelimitationItem && !(first && pixelData) {
			if vl != 0 {
				return pos, fmt.Errorf("encapsulated %v at %s: sequence delimiter of length %d", e.tag, s.at(e.start), vl)
			}
			return pos, nil
		}
		if t != tag.Item {
			return pos, fmt.Errorf("encapsulated %v at %s holds %v, not an item", e.tag, s.at(e.start), t)
		}
		if vl == tag.VLUndefinedLength || int64(vl) > int64(end-pos) {
			return pos, fmt.Errorf("encapsulated %v at %s: fragment length %d runs past the end (%d bytes left)", e.tag, s.at(e.start), vl, end-pos)
		}
		pos += int(vl)
	}
}

// implicitVR is the VR the library gives a tag in an implicit VR syntax.
func implicitVR(t tag.Tag) string {
	info, err := tag.Find(t)
	if err != nil {
		return tag.UnknownVR
	}
	if info.Tag == tag.PixelData || info.Tag == tag.OverlayData {
		return "OW"
	}
	return info.VRs[0]
}

// longLengthVR reports whether the library reads a 4-byte length (after two
// reserved bytes) for an explicit VR.
func longLengthVR(vr string) bool {
	switch vr {
	case "NA", "OB", "OD", "OF", "OL", "OW", "SQ", "UN", "UC", "UR", "UT":
		return true
	}
	return false
}

// isDICOMVR reports whether s is two upper-case ASCII letters.
func isDICOMVR(s string) bool {
	return len(s) == 2 && 'A' <= s[0] && s[0] <= 'Z' && 'A' <= s[1] && s[1] <= 'Z'
}

// dcmStringKind reports whether the library reads a value of this kind as
// strings.
func dcmStringKind(k tag.VRKind) bool {
	return k == tag.VRString || k == tag.VRStringList || k == tag.VRDate
}

// dcmString returns the first value of a string element, trimmed.
func dcmString(ds *dicom.Dataset, t tag.Tag) (string, bool) {
	e, err := ds.FindElementByTag(t)
	if err != nil {
		return "", false
	}
	v, ok := e.Value.GetValue().([]string)
	if !ok || len(v) == 0 {
		return "", false
	}
	return strings.TrimSpace(strings.Trim(v[0], "\x00")), true
}

// dcmInts returns the values of an integer element (US, SS, UL, SL, or IS
// strings).
func dcmInts(ds *dicom.Dataset, t tag.Tag) ([]int, bool, error) {
	e, err := ds.FindElementByTag(t)
	if err != nil {
		return nil, false, nil
	}
	switch v := e.Value.GetValue().(type) {
	case []int:
		return v, true, nil
	case []string:
		out := make([]int, 0, len(v))
		for _, s := range v {
			s = strings.TrimSpace(strings.Trim(s, "\x00"))
			if s == "" {
				continue
			}
			n, err := strconv.Atoi(s)
			if err != nil {
				return nil, true, fmt.Errorf("%s is not an integer (%q)", dcmTagName(t), s)
			}
			out = append(out, n)
		}
		return out, true, nil
	}
	return nil, true, fmt.Errorf("%s has VR %s, not an integer", dcmTagName(t), e.RawValueRepresentation)
}

// dcmInt returns the first value of an integer element, or def when absent.
func dcmInt(ds *dicom.Dataset, t tag.Tag, def int) (int, error) {
	v, ok, err := dcmInts(ds, t)
	if err != nil {
		return 0, err
	}
	if !ok || len(v) == 0 {
		return def, nil
	}
	return v[0], nil
}

// dcmFloats returns the values of a decimal element (DS strings, or FL/FD).
// present says whether the element is there with a value.
func dcmFloats(ds *dicom.Dataset, t tag.Tag) (vals []float64, present bool, err error) {
	e, err := ds.FindElementByTag(t)
	if err != nil {
		return nil, false, nil
	}
	switch v := e.Value.GetValue().(type) {
	case []float64:
		vals = v
	case []string:
		for _, s := range v {
			s = strings.TrimSpace(strings.Trim(s, "\x00"))
			if s == "" {
				continue
			}
			f, err := strconv.ParseFloat(s, 64)
			if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
				return nil, true, fmt.Errorf("%s is not a number (%q)", dcmTagName(t), s)
			}
			vals = append(vals, f)
		}
	case []int:
		for _, n := range v {
			vals = append(vals, float64(n))
		}
	default:
		return nil, true, fmt.Errorf("%s has VR %s, not a number", dcmTagName(t), e.RawValueRepresentation)
	}
	for _, f := range vals {
		if math.IsInf(f, 0) || math.IsNaN(f) {
			return nil, true, fmt.Errorf("%s is not finite", dcmTagName(t))
		}
	}
	return vals, len(vals) > 0, nil
}

// dcmTagName is a tag's name in the dictionary ("Rows"), or its number.
func dcmTagName(t tag.Tag) string {
	if info, err := tag.Find(t); err == nil {
		return info.Name
	}
	return t.String()
}

// dicomPixels are the Image Pixel attributes of a data set.
type dicomPixels struct {
	rows, cols, samples       int
	bitsAllocated, bitsStored int
	highBit                   int
	signed                    bool
	photometric               string
	planar                    int
	frames                    int
}

// pixelAttributes reads and checks the Image Pixel module, including the
// image size against MaxSide and MaxPixels.
func pixelAttributes(ds *dicom.Dataset) (dicomPixels, error) {
	var p dicomPixels
	var err error
	get := func(t tag.Tag, def int) int {
		if err != nil {
			return 0
		}
		var v int
		v, err = dcmInt(ds, t, def)
		return v
	}
	p.rows = get(tag.Rows, -1)
	p.cols = get(tag.Columns, -1)
	p.samples = get(tag.SamplesPerPixel, 1)
	p.bitsAllocated = get(tag.BitsAllocated, 0)
	p.bitsStored = get(tag.BitsStored, 0)
	p.highBit = get(tag.HighBit, -1)
	rep := get(tag.PixelRepresentation, 0)
	p.planar = get(tag.PlanarConfiguration, 0)
	p.frames = get(tag.NumberOfFrames, 1)
	if err != nil {
		return p, err
	}
	if p.rows < 0 || p.cols < 0 {
		return p, errors.New("Rows or Columns absent")
	}
	if err := CheckSize(p.cols, p.rows); err != nil {
		return p, err
	}
	p.signed = rep == 1
	p.frames = max(p.frames, 1)
	p.photometric, _ = dcmString(ds, tag.PhotometricInterpretation)
	p.photometric = strings.ToUpper(p.photometric)
	if p.bitsStored == 0 {
		p.bitsStored = p.bitsAllocated
	}
	return p, nil
}

// checkNative checks the attributes native pixel data need and fills in the
// defaults (photometric interpretation, high bit). It returns notes.
func (p *dicomPixels) checkNative() ([]string, error) {
	var notes []string
	if p.samples != 1 && p.samples != 3 {
		return nil, fmt.Errorf("Samples per Pixel %d is not supported (1 or 3)", p.samples)
	}
	if p.bitsAllocated != 8 && p.bitsAllocated != 16 {
		return nil, fmt.Errorf("Bits Allocated %d is not supported (8 or 16)", p.bitsAllocated)
	}
	if p.bitsStored < 1 || p.bitsStored > p.bitsAllocated {
		return nil, fmt.Errorf("Bits Stored %d is not within 1..Bits Allocated (%d)", p.bitsStored, p.bitsAllocated)
	}
	if p.highBit < p.bitsStored-1 || p.highBit >= p.bitsAllocated {
		if p.highBit != -1 {
			notes = append(notes, fmt.Sprintf("High Bit %d ignored (taken as %d)", p.highBit, p.bitsStored-1))
		}
		p.highBit = p.bitsStored - 1
	}
	if p.photometric == "" {
		switch p.samples {
		case 1:
			p.photometric = "MONOCHROME2"
		case 3:
			p.photometric = "RGB"
		}
		notes = append(notes, "no Photometric Interpretation: assumed "+p.photometric)
	}
	switch p.photometric {
	case "MONOCHROME1", "MONOCHROME2":
		if p.samples != 1 {
			return nil, fmt.Errorf("%s with %d samples per pixel", p.photometric, p.samples)
		}
	case "RGB", "YBR_FULL":
		if p.samples != 3 {
			return nil, fmt.Errorf("%s with %d samples per pixel", p.photometric, p.samples)
		}
		if p.planar != 0 && p.planar != 1 {
			return nil, fmt.Errorf("Planar Configuration %d is not 0 or 1", p.planar)
		}
	default:
		return nil, fmt.Errorf("Photometric Interpretation %q is not supported (MONOCHROME1, MONOCHROME2, RGB, YBR_FULL)", p.photometric)
	}
	return notes, nil
}

// decodeNativePixels renders the first frame of native (uncompressed) pixel
// data. bo is the transfer syntax's byte order; vr the Pixel Data's VR (8-bit
// samples in OW are byte-swapped in big endian).
func decodeNativePixels(ds *dicom.Dataset, p dicomPixels, raw []byte, bo binary.ByteOrder, vr string) (*image.Gray, []string, error) {
	notes, err := p.checkNative()
	if err != nil {
		return nil, nil, err
	}
	n := p.rows * p.cols
	bytesPerSample := p.bitsAllocated / 8
	frameBytes := n * p.samples * bytesPerSample
	swap8 := bytesPerSample == 1 && vr == "OW" && bo == binary.ByteOrder(binary.BigEndian)
	need := frameBytes
	if swap8 {
		need += frameBytes % 2
	}
	if len(raw) < need {
		return nil, nil, fmt.Errorf("Pixel Data has %d bytes, fewer than one %dx%d frame of %d × %d-bit samples (%d bytes)", len(raw), p.cols, p.rows, p.samples, p.bitsAllocated, frameBytes)
	}
	shift := uint(p.highBit + 1 - p.bitsStored)
	mask := uint32(1)<<uint(p.bitsStored) - 1
	unsigned := func(i int) uint32 {
		var u uint32
		switch {
		case bytesPerSample == 2:
			u = uint32(bo.Uint16(raw[2*i:]))
		case swap8:
			u = uint32(raw[i^1])
		default:
			u = uint32(raw[i])
		}
		return (u >> shift) & mask
	}
	img := image.NewGray(image.Rect(0, 0, p.cols, p.rows))
	if p.samples == 3 {
		notes = append(notes, colourToGray(img.Pix, p, unsigned)...)
		return img, notes, nil
	}
	stored := unsigned
	if p.signed {
		sign := uint32(1) << uint(p.bitsStored-1)
		stored = func(i int) uint32 { return unsigned(i) ^ sign } // offset binary: keeps the order
	}
	pl, plNotes := grayPipelineOf(ds, p.signed)
	notes = append(notes, plNotes...)
	lo, hi := uint32(math.MaxUint32), uint32(0)
	for i := 0; i < n; i++ {
		v := stored(i)
		lo, hi = min(lo, v), max(hi, v)
	}
	// value gives the stored value of an offset (sign-flipped) sample.
	value := func(u uint32) float64 {
		if p.signed {
			return float64(int64(u) - int64(1)<<uint(p.bitsStored-1))
		}
		return float64(u)
	}
	lut, lutNotes := pl.table(value, lo, hi, p.photometric == "MONOCHROME1")
	notes = append(notes, lutNotes...)
	for i := 0; i < n; i++ {
		img.Pix[i] = lut[stored(i)-lo]
	}
	return img, notes, nil
}

// colourToGray renders RGB or YBR_FULL samples into pix.
func colourToGray(pix []uint8, p dicomPixels, sample func(int) uint32) []string {
	n := len(pix)
	maxv := uint32(1)<<uint(p.bitsStored) - 1
	at := func(pixel, c int) uint32 {
		if p.planar == 1 {
			return sample(c*n + pixel)
		}
		return sample(3*pixel + c)
	}
	if p.photometric == "YBR_FULL" {
		for i := range pix {
			pix[i] = uint8((at(i, 0)*255 + maxv/2) / maxv)
		}
		return []string{"YBR_FULL: its Y"}
	}
	for i := range pix {
		r := at(i, 0) * 0xffff / maxv
		g := at(i, 1) * 0xffff / maxv
		b := at(i, 2) * 0xffff / maxv
		pix[i] = grayOf(r, g, b)
	}
	return []string{"RGB to gray (Rec. 601 luma)"}
}

// decodeJPEGPixels decodes the first frame of encapsulated JPEG pixel data.
func decodeJPEGPixels(ds *dicom.Dataset, p dicomPixels, info dicom.PixelDataInfo) (*image.Gray, []string, error) {
	frags := make([][]byte, 0, len(info.Frames))
	for _, f := range info.Frames {
		if f != nil {
			frags = append(frags, f.EncapsulatedData.Data)
		}
	}
	data := firstJPEGFrame(frags, p.frames)
	if len(data) < 2 || data[0] != 0xFF || data[1] != 0xD8 {
		return nil, nil, errors.New("frame 1 is not a JPEG stream")
	}
	cfg, err := jpeg.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("frame 1: corrupt JPEG: %w", readErr(err))
	}
	if err := CheckSize(cfg.Width, cfg.Height); err != nil {
		return nil, nil, fmt.Errorf("frame 1: %w", err)
	}
	var notes []string
	if cfg.Width != p.cols || cfg.Height != p.rows {
		notes = append(notes, fmt.Sprintf("JPEG frame is %dx%d, Rows/Columns say %dx%d: used the JPEG's", cfg.Width, cfg.Height, p.cols, p.rows))
	}
	img, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, nil, fmt.Errorf("frame 1: cannot decode JPEG (%w); Go decodes 8-bit baseline, extended and progressive JPEG only", readErr(err))
	}
	g, isGray := img.(*image.Gray)
	if !isGray || (p.photometric != "MONOCHROME1" && p.photometric != "MONOCHROME2") {
		if !isGray {
			notes = append(notes, "colour JPEG to gray (its luma)")
		}
		return toGray(img), notes, nil
	}
	// 8-bit stored values through the grayscale pipeline.
	b := g.Bounds()
	w, h := b.Dx(), b.Dy()
	pl, plNotes := grayPipelineOf(ds, false)
	notes = append(notes, plNotes...)
	lo, hi := uint32(255), uint32(0)
	for y := 0; y < h; y++ {
		i := g.PixOffset(b.Min.X, b.Min.Y+y)
		for _, v := range g.Pix[i : i+w] {
			lo, hi = min(lo, uint32(v)), max(hi, uint32(v))
		}
	}
	lut, lutNotes := pl.table(func(u uint32) float64 { return float64(u) }, lo, hi, p.photometric == "MONOCHROME1")
	notes = append(notes, lutNotes...)
	out := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		i := g.PixOffset(b.Min.X, b.Min.Y+y)
		row := out.Pix[y*out.Stride : y*out.Stride+w]
		for x := range row {
			row[x] = lut[uint32(g.Pix[i+x])-lo]
		}
	}
	return out, notes, nil
}

// firstJPEGFrame returns the bytes of the first frame of encapsulated pixel
// data from its fragments: all of them for a single-frame image, the first
// when there is one fragment per frame, else fragments up to the first that
// ends the JPEG stream (an EOI marker, FF D9, before any zero padding).
func firstJPEGFrame(frags [][]byte, frames int) []byte {
	switch {
	case len(frags) == 0:
		return nil
	case frames <= 1:
		return bytes.Join(frags, nil)
	case len(frags) == frames:
		return frags[0]
	}
	var out []byte
	for _, f := range frags {
		out = append(out, f...)
		if bytes.HasSuffix(bytes.TrimRight(f, "\x00"), []byte{0xFF, 0xD9}) {
			break
		}
	}
	return out
}

// grayPipeline is the modality and VOI transforms of a grayscale image.
type grayPipeline struct {
	slope, intercept float64
	modalityLUT      *dicomLUT // replaces slope and intercept when set
	voiLUT           *dicomLUT
	window           *voiWindow
}

// dicomLUT is a LUT of a Modality or VOI LUT Sequence item.
type dicomLUT struct {
	first int   // first mapped input value
	bits  int   // bits of the output
	data  []int // output values
}

// lookup maps x (rounded to nearest) through the LUT: inputs below the first
// mapped value take the first entry, inputs past the last the last one.
func (l *dicomLUT) lookup(x float64) float64 {
	i := math.Round(x) - float64(l.first)
	switch {
	case i <= 0:
		return float64(l.data[0])
	case i >= float64(len(l.data)-1):
		return float64(l.data[len(l.data)-1])
	}
	return float64(l.data[int(i)])
}

// voiWindow is a Window Center/Width with its VOI LUT Function.
type voiWindow struct {
	center, width float64
	function      string // "LINEAR", "LINEAR_EXACT" or "SIGMOID"
}

// apply maps x to 0..255 (PS3.3 C.11.2.1.2 and C.11.2.1.3).
func (w *voiWindow) apply(x float64) float64 {
	c, wd := w.center, w.width
	switch w.function {
	case "LINEAR_EXACT":
		switch {
		case x <= c-wd/2:
			return 0
		case x > c+wd/2:
			return 255
		}
		return ((x-c)/wd + 0.5) * 255
	case "SIGMOID":
		return 255 / (1 + math.Exp(-4*(x-c)/wd))
	}
	switch {
	case x <= c-0.5-(wd-1)/2:
		return 0
	case x > c-0.5+(wd-1)/2:
		return 255
	}
	return ((x-(c-0.5))/(wd-1) + 0.5) * 255
}

// grayPipelineOf reads the modality and VOI transforms of a data set, with
// notes on attributes it ignored as invalid.
func grayPipelineOf(ds *dicom.Dataset, signed bool) (grayPipeline, []string) {
	pl := grayPipeline{slope: 1}
	var notes []string
	if l, ok, err := lutOf(ds, tag.ModalityLUTSequence, signed); err != nil {
		notes = append(notes, "Modality LUT Sequence ignored: "+err.Error())
	} else if ok {
		pl.modalityLUT = l
	}
	if pl.modalityLUT == nil {
		slope, sok, err1 := dcmFloats(ds, tag.RescaleSlope)
		icpt, iok, err2 := dcmFloats(ds, tag.RescaleIntercept)
		switch {
		case err1 != nil || err2 != nil:
			notes = append(notes, fmt.Sprintf("rescale ignored: %v", errors.Join(err1, err2)))
		case sok && slope[0] == 0:
			notes = append(notes, "rescale ignored: slope 0")
		default:
			if sok {
				pl.slope = slope[0]
			}
			if iok {
				pl.intercept = icpt[0]
			}
		}
	}
	if l, ok, err := lutOf(ds, tag.VOILUTSequence, signed); err != nil {
		notes = append(notes, "VOI LUT Sequence ignored: "+err.Error())
	} else if ok {
		pl.voiLUT = l
		return pl, notes
	}
	centers, cok, err1 := dcmFloats(ds, tag.WindowCenter)
	widths, wok, err2 := dcmFloats(ds, tag.WindowWidth)
	switch {
	case err1 != nil || err2 != nil:
		notes = append(notes, fmt.Sprintf("window ignored: %v", errors.Join(err1, err2)))
	case cok && wok && widths[0] < 1:
		notes = append(notes, fmt.Sprintf("window ignored: width %g < 1", widths[0]))
	case cok && wok:
		fn, _ := dcmString(ds, tag.VOILUTFunction)
		fn = strings.ToUpper(fn)
		switch fn {
		case "", "LINEAR":
			fn = "LINEAR"
		case "LINEAR_EXACT", "SIGMOID":
		default:
			notes = append(notes, fmt.Sprintf("VOI LUT Function %s unknown: LINEAR used", fn))
			fn = "LINEAR"
		}
		pl.window = &voiWindow{center: centers[0], width: widths[0], function: fn}
	}
	return pl, notes
}

// lutOf reads the LUT of the first item of a Modality or VOI LUT Sequence;
// ok is false when there is none.
func lutOf(ds *dicom.Dataset, seq tag.Tag, signed bool) (l *dicomLUT, ok bool, err error) {
	e, err := ds.FindElementByTag(seq)
	if err != nil {
		return nil, false, nil
	}
	items, isSeq := e.Value.GetValue().([]*dicom.SequenceItemValue)
	if !isSeq || len(items) == 0 {
		return nil, false, nil
	}
	elems, _ := items[0].GetValue().([]*dicom.Element)
	item := &dicom.Dataset{Elements: elems}
	desc, dok, err := dcmInts(item, tag.LUTDescriptor)
	if err != nil {
		return nil, false, err
	}
	if !dok || len(desc) < 3 {
		return nil, false, errors.New("LUT Descriptor absent or short")
	}
	entries, first, bits := desc[0], desc[1], desc[2]
	if entries == 0 {
		entries = 1 << 16
	}
	de, _ := item.FindElementByTag(tag.LUTDescriptor)
	if signed && de.RawValueRepresentation == "US" && first >= 1<<15 {
		first -= 1 << 16
	}
	if entries < 0 || bits < 1 || bits > 16 {
		return nil, false, fmt.Errorf("LUT Descriptor %d\\%d\\%d is invalid", desc[0], desc[1], desc[2])
	}
	var data []int
	de, err = item.FindElementByTag(tag.LUTData)
	if err != nil {
		return nil, false, errors.New("LUT Data absent")
	}
	switch v := de.Value.GetValue().(type) {
	case []int:
		data = v
	case []byte: // OW, which the library hands over in little endian
		data = make([]int, len(v)/2)
		for i := range data {
			data[i] = int(binary.LittleEndian.Uint16(v[2*i:]))
		}
	default:
		return nil, false, fmt.Errorf("LUT Data has VR %s", de.RawValueRepresentation)
	}
	if len(data) == 0 {
		return nil, false, errors.New("LUT Data empty")
	}
	if len(data) > entries {
		data = data[:entries]
	}
	return &dicomLUT{first: first, bits: bits, data: data}, true, nil
}

// table builds the display value of every stored value u in lo..hi (value
// converts u to the stored value), and the notes saying what was applied.
func (pl *grayPipeline) table(value func(uint32) float64, lo, hi uint32, invert bool) ([]uint8, []string) {
	var notes []string
	modality := func(x float64) float64 { return pl.slope*x + pl.intercept }
	switch {
	case pl.modalityLUT != nil:
		modality = pl.modalityLUT.lookup
		notes = append(notes, fmt.Sprintf("Modality LUT (%d entries from %d)", len(pl.modalityLUT.data), pl.modalityLUT.first))
	case pl.slope != 1 || pl.intercept != 0:
		notes = append(notes, fmt.Sprintf("rescale slope %g intercept %g", pl.slope, pl.intercept))
	}
	var voi func(float64) float64
	switch {
	case pl.voiLUT != nil:
		l := pl.voiLUT
		top := float64(int(1)<<uint(l.bits) - 1)
		voi = func(x float64) float64 { return l.lookup(x) * 255 / top }
		notes = append(notes, fmt.Sprintf("VOI LUT (%d entries from %d, %d bits)", len(l.data), l.first, l.bits))
	case pl.window != nil:
		voi = pl.window.apply
		note := fmt.Sprintf("window C=%g W=%g", pl.window.center, pl.window.width)
		if pl.window.function != "LINEAR" {
			note += " " + pl.window.function
		}
		notes = append(notes, note)
	default:
		a, b := modality(value(lo)), modality(value(hi))
		mlo, mhi := min(a, b), max(a, b)
		// The modality LUT need not be monotonic: take the range of all.
		if pl.modalityLUT != nil {
			for u := lo; u <= hi; u++ {
				m := modality(value(u))
				mlo, mhi = min(mlo, m), max(mhi, m)
			}
		}
		if mhi > mlo {
			voi = func(x float64) float64 { return (x - mlo) * 255 / (mhi - mlo) }
			notes = append(notes, fmt.Sprintf("no window: range %g..%g stretched to 0..255", mlo, mhi))
		} else {
			voi = func(float64) float64 { return 0 }
			notes = append(notes, fmt.Sprintf("no window: constant image (%g): all 0", mlo))
		}
	}
	if invert {
		notes = append(notes, "MONOCHROME1 inverted")
	}
	lut := make([]uint8, int(hi-lo)+1)
	for i := range lut {
		y := math.Round(voi(modality(value(lo + uint32(i)))))
		y = min(max(y, 0), 255)
		if invert {
			y = 255 - y
		}
		lut[i] = uint8(y)
	}
	return lut, notes
}
