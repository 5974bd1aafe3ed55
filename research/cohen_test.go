package research

import "testing"

func TestFileStemOfScoreKeys(t *testing.T) {
	tests := []struct{ name, want string }{
		{"a.jpg", "a"},
		{"images/a.jpeg", "a"},
		{`C:\scores\images\a.png`, "a"},
		{"1-s2.0-S0929664620300449-gr2_lrg.jpg", "1-s2.0-S0929664620300449-gr2_lrg"},
		// An extension of more than 5 characters is part of the name.
		{"x.dicom", "x.dicom"},
		{"patient.1", "patient"},
		{"noext", "noext"},
		{"dir/", "dir"},
	}
	for _, tc := range tests {
		if got := FileStem(tc.name); got != tc.want {
			t.Errorf("FileStem(%q) = %q, want %q", tc.name, got, tc.want)
		}
	}
}
