package datasets

import "testing"

func TestFileStem(t *testing.T) {
	tests := []struct {
		name   string
		maxExt int
		want   string
	}{
		{"a.jpg", 0, "a"},
		{"a.jpg", 5, "a"},
		// Only the last extension goes.
		{"COVID-19-AR-1_01-01-2020-XR.nii.gz", 0, "COVID-19-AR-1_01-01-2020-XR.nii"},
		// ".dicom" has 6 characters: kept under a limit of 5.
		{"x.dicom", 0, "x"},
		{"x.dicom", 5, "x.dicom"},
		{"x.dicom", 6, "x"},
		{"noext", 0, "noext"},
		// A leading dot is no extension.
		{".hidden", 0, ".hidden"},
		{".png", 5, ".png"},
		// Folders are kept, and a dot in one is taken as the last.
		{"dir/a.png", 0, "dir/a"},
		{"dir.v/a", 0, "dir"},
		{"a.", 0, "a"},
		{"", 0, ""},
	}
	for _, tc := range tests {
		if got := FileStem(tc.name, tc.maxExt); got != tc.want {
			t.Errorf("FileStem(%q, %d) = %q, want %q", tc.name, tc.maxExt, got, tc.want)
		}
	}
}
