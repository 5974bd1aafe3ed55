package datasets

import (
	"os"
	"path/filepath"
	"strings"
)

// imageExts are the extensions FindImageBeside tries, in this order.
var imageExts = []string{".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG", ".Jpg", ".Jpeg", ".Png"}

// FindImageBeside looks for the image of a labelme annotation file: first
// imagePath itself (relative to the annotation's folder, as labelme writes
// it), then a file with the same stem as imagePath's base name, then one with
// the annotation file's own stem, each with extension .jpg, .jpeg or .png in
// lower, upper or title case, in the annotation's folder and then in
// ../images/ next to it. It returns the path found and true, or "", false.
// The stem match is what the Cohen annotations need: their imagePath may say
// .jpg where the file is .jpeg.
func FindImageBeside(annotationPath string, imagePath string) (string, bool) {
	dir := filepath.Dir(annotationPath)
	dirs := []string{dir, filepath.Join(dir, "..", ImagesDir)}
	// imagePath may have been written on Windows.
	base := imagePath
	if i := strings.LastIndexAny(base, `/\`); i >= 0 {
		base = base[i+1:]
	}
	if imagePath != "" && !filepath.IsAbs(imagePath) {
		p := filepath.Join(dir, filepath.FromSlash(strings.ReplaceAll(imagePath, `\`, "/")))
		if isRegularFile(p) && hasImageExt(p) {
			return p, true
		}
	}
	var stems []string
	if s := fileStem(base); s != "" {
		stems = append(stems, s)
	}
	if s := fileStem(filepath.Base(annotationPath)); s != "" && (len(stems) == 0 || s != stems[0]) {
		stems = append(stems, s)
	}
	for _, stem := range stems {
		for _, d := range dirs {
			for _, ext := range imageExts {
				p := filepath.Join(d, stem+ext)
				if isRegularFile(p) {
					return p, true
				}
			}
		}
	}
	return "", false
}

func hasImageExt(p string) bool {
	switch strings.ToLower(filepath.Ext(p)) {
	case ".jpg", ".jpeg", ".png":
		return true
	}
	return false
}

func isRegularFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular()
}
