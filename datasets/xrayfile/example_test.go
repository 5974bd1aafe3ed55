package xrayfile

import "fmt"

// A 12-bit DICOM radiograph with a window: the window, not the high byte,
// makes the display values.
func ExampleDecode() {
	data := dcmFile(tsExplicitLE, win12Dataset()) // 4x2, Bits Stored 12, Window 1000/201
	x, err := Decode("chest.dcm", data, Options{})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(x.Format, x.Modality, x.BodyPart, x.Photometric, x.BitsStored, x.Image.Bounds().Size())
	fmt.Println(x.Notes)
	fmt.Println(x.Image.Pix)

	data = dcmFile(tsJPEG2000, append(xrayAttrs(2, 2, 8, 8, 0, "MONOCHROME2"), dEncaps([]byte{0xff, 0x4f})))
	_, err = Decode("chest.dcm", data, Options{})
	fmt.Println(err)
	// Output:
	// dicom DX CHEST MONOCHROME2 12 (4,2)
	// [window C=1000 W=201]
	// [0 0 1 128 254 255 255 128]
	// chest.dcm: transfer syntax JPEG 2000 Image Compression (Lossless Only) (1.2.840.10008.1.2.4.90) is not supported (supported: native, baseline JPEG); convert it first, e.g. with GDCM: gdcmconv --raw in.dcm out.dcm
}
