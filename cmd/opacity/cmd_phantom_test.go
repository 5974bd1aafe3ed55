package main

import (
	"bytes"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPhantomCommand(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ph")
	sheet := filepath.Join(t.TempDir(), "sheet.png")
	var stdout, stderr bytes.Buffer
	code := run([]string{"data", "phantom", "--data", dir, "--patients", "5", "--seed", "2", "--image-size", "64", "--cohen-images", "3", "--sheet", sheet}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	out := stdout.String()
	for _, want := range []string{"SYNTHETIC", "seed=2", "5 patients", "ICU admissions", "cohen: 3 images", "contact sheet"} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "SYNTHETIC")); err != nil {
		t.Error(err)
	}
	f, err := os.Open(sheet)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatalf("contact sheet: %v", err)
	}
	if b := img.Bounds(); b.Dx() < 192 || b.Dy() < 192 {
		t.Errorf("contact sheet %v: too small", b)
	}
}

func TestPhantomCommandRefusesRealData(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "patient_info.csv"), []byte("x"), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"data", "phantom", "--data", dir, "--patients", "2", "--image-size", "32"}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "not a phantom") {
		t.Errorf("exit %d, stderr %s", code, stderr.String())
	}
}
