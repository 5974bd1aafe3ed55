//go:build ignore

// Command genexample writes testdata/example, the small data folder of the
// datasets tests, ExampleLoadCohort and the "data stats" command test. Every
// value in it is chosen by hand so that the expected counts can be worked out
// on paper (see cohort_test.go). Run from the datasets folder:
//
//	go run testdata/genexample.go
package main

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"log"
	"os"
	"path/filepath"
)

const root = "testdata/example"

func write(path string, data []byte) {
	p := filepath.Join(root, path)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		log.Fatal(err)
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		log.Fatal(err)
	}
}

// gray returns a w x h gradient image.
func gray(w, h int) *image.Gray {
	g := image.NewGray(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			g.SetGray(x, y, color.Gray{Y: uint8(40 + 8*x + 2*y)})
		}
	}
	return g
}

func pngBytes(img image.Image) []byte {
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		log.Fatal(err)
	}
	return b.Bytes()
}

// crop returns a w x h RGBA mask crop of colour c, with the pixels listed in
// black (background).
func crop(w, h int, c color.RGBA, black ...image.Point) []byte {
	m := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			m.SetRGBA(x, y, c)
		}
	}
	for _, p := range black {
		m.SetRGBA(p.X, p.Y, color.RGBA{0, 0, 0, 255})
	}
	return pngBytes(m)
}

func rect(x0, y0, x1, y1 float64) string {
	return fmt.Sprintf("[[%g,%g],[%g,%g],[%g,%g],[%g,%g]]", x0, y0, x1, y0, x1, y1, x0, y1)
}

func shape(label, pts string) string {
	return fmt.Sprintf(`{"label":%q,"points":%s,"group_id":null,"shape_type":"polygon","flags":{}}`, label, pts)
}

func labelme(imagePath, imageData string, shapes ...string) []byte {
	s := ""
	for i, sh := range shapes {
		if i > 0 {
			s += ","
		}
		s += sh
	}
	return []byte(fmt.Sprintf(`{"version":"4.5.6","flags":{},"shapes":[%s],"imagePath":%q,"imageData":%s}`, s, imagePath, imageData))
}

func main() {
	if err := os.RemoveAll(root); err != nil {
		log.Fatal(err)
	}
	lungs := []string{shape("right_lung", rect(0, 0, 10, 20)), shape("left_lung", rect(10, 0, 20, 20))}

	// covid-ar: 4 files, 3 patients (one file malformed), one patient
	// without clinical row, one file with its image embedded.
	write("covid-ar/patient_info.csv", []byte("PATIENT_ID,AGE,ICU Admit,# ICU admits,MORTALITY\r\nCOVID-19-AR-1,60,1,1,0\r\nCOVID-19-AR-2,50,0,0,0\r\n"))
	write("covid-ar/annotations/COVID-19-AR-1_01-01-2020-XR.json",
		labelme("COVID-19-AR-1_01-01-2020-XR.jpg", "null", append(lungs, shape("groud_glass_opacity", rect(2, 2, 6, 6)))...))
	embedded := `"` + base64.StdEncoding.EncodeToString(pngBytes(gray(24, 20))) + `"`
	write("covid-ar/annotations/COVID-19-AR-1_01-05-2020-XR.json",
		labelme("COVID-19-AR-1_01-05-2020-XR.jpg", embedded, shape("right_lung", rect(1, 1, 11, 19)), shape("left_lung", rect(12, 1, 23, 19))))
	write("covid-ar/annotations/COVID-19-AR-3_01-02-2020-XR.json",
		labelme("COVID-19-AR-3_01-02-2020-XR.jpg", "null", append(lungs, shape("consolidation", rect(12, 4, 16, 9)))...))
	write("covid-ar/annotations/COVID-19-AR-4_01-03-2020-XR.json", []byte(`{"version":"4.5.6","shapes":[{"label":"right_lung","points":[[0,0],[1,1]]}]}`))

	// cohen: a.json with its image as a.jpeg (imagePath says .jpg), b.json
	// without image and without opacity.
	var jb bytes.Buffer
	if err := jpeg.Encode(&jb, gray(24, 20), &jpeg.Options{Quality: 95}); err != nil {
		log.Fatal(err)
	}
	write("cohen/images/a.jpeg", jb.Bytes())
	write("cohen/annotations/a.json", labelme("a.jpg", "null", append(lungs, shape("opacity", rect(3, 3, 7, 5)))...))
	write("cohen/annotations/b.json", labelme("b.jpg", "null", lungs...))
	write("cohen/metadata.csv", []byte("Patientid,offset,filename,\n7,0,a.jpeg,\n8,1,other.jpg,\n"))
	write("cohen/covid-severity-scores.csv", []byte("## scores for the example\nfilename,geographic_mean,opacity_mean\na.jpeg,3.0,2.0\nz.png,1.0,1.0\n"))

	// cxr-seg: x.png with both lungs, ground glass and an empty Monitoring
	// Probes row; y.png with a left lung only. Both of patient 5.
	write("cxr-seg/images/x.png", pngBytes(gray(20, 16)))
	write("cxr-seg/images/y.png", pngBytes(gray(20, 16)))
	white, red := color.RGBA{255, 255, 255, 255}, color.RGBA{200, 0, 0, 255}
	write("cxr-seg/masks/x_left.png", crop(8, 12, white))
	write("cxr-seg/masks/x_right.png", crop(8, 12, white, image.Pt(0, 0), image.Pt(7, 11)))
	write("cxr-seg/masks/x_ggo.png", crop(4, 4, red, image.Pt(3, 3)))
	write("cxr-seg/masks/y_left.png", crop(8, 12, white))
	header := `#,Taxonomy,Class,Template Name,File Folder,Filename,Image,Tag,Mask,Resolution,Top,Left,Width,Height,Points` + "\n"
	row := func(n int, class, file, mask string, top, left, w, h int) string {
		return fmt.Sprintf(`%d,,"COVID-19 %s","%s",,"%s",images/h.jpg,,%s,20x16,%d,%d,%d,%d,`+"\n", n, class, class, file, mask, top, left, w, h)
	}
	write("cxr-seg/structure.csv", []byte(header+
		row(1, "Left Lung", "x.png", "masks/x_left.png", 2, 1, 8, 12)+
		row(2, "Right Lung", "x.png", "masks/x_right.png", 2, 11, 8, 12)+
		row(3, "Ground Glass Opacities", "x.png", "masks/x_ggo.png", 4, 3, 4, 4)+
		row(4, "Monitoring Probes", "x.png", "", 0, 0, 20, 16)+
		row(5, "Left Lung", "y.png", "masks/y_left.png", 2, 1, 8, 12)))
	write("cxr-seg/metadata.csv", []byte("patientid,offset,filename\n5,0,x.png\n5,3,y.png\n"))
}
