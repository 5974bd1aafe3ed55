package ckptfile

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func sample(t testing.TB) []byte {
	b, err := Encode(json.RawMessage(`{"epoch":1}`), []Var{
		{Path: "/a", DType: 11, Dims: []int{2}, Trainable: true, Data: []byte{0, 0, 128, 63, 0, 0, 0, 64}},
		{Path: "/global_step", DType: 5, Dims: nil, Data: []byte{7, 0, 0, 0, 0, 0, 0, 0}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRoundTrip(t *testing.T) {
	b := sample(t)
	meta, vars, err := Decode("x", bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	if string(meta) != `{"epoch":1}` || len(vars) != 2 || vars[0].Path != "/a" || !vars[0].Trainable ||
		!bytes.Equal(vars[0].Data, []byte{0, 0, 128, 63, 0, 0, 0, 64}) || vars[1].Data[0] != 7 {
		t.Errorf("decoded %s %+v", meta, vars)
	}
}

func TestDecodeErrors(t *testing.T) {
	good := sample(t)
	cases := map[string]struct {
		data []byte
		want string
	}{
		"empty":     {nil, "bad magic"},
		"magic":     {[]byte("PNG\n"), "bad magic"},
		"truncated": {good[:len(good)-3], "does not fit"},
		"corrupt":   {append(append([]byte{}, good[:len(good)-1]...), good[len(good)-1]^1), "checksum"},
	}
	for name, tc := range cases {
		if _, _, err := Decode(name, bytes.NewReader(tc.data), int64(len(tc.data))); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", name, err, tc.want)
		}
	}
}

// FuzzDecode feeds arbitrary bytes to the decoder: it must return an error
// or variables that lie inside the data, never panic or allocate more than
// the input's size.
func FuzzDecode(f *testing.F) {
	f.Add(sample(f))
	f.Add([]byte(Magic))
	f.Add([]byte("not a checkpoint"))
	f.Fuzz(func(t *testing.T, b []byte) {
		_, vars, err := Decode("fuzz", bytes.NewReader(b), int64(len(b)))
		if err != nil {
			return
		}
		for _, v := range vars {
			n := ElementSize(v.DType)
			for _, d := range v.Dims {
				n *= d
			}
			if n != len(v.Data) {
				t.Fatalf("variable %s: %d bytes for dims %v", v.Path, len(v.Data), v.Dims)
			}
		}
	})
}
