package mask

import "fmt"

// Mask is a binary mask on a pixel grid. Pix is row-major: the pixel at column
// x, row y is Pix[y*Width+x], and holds 0 or 1.
type Mask struct {
	Width, Height int
	Pix           []uint8
}

// New returns an empty (all-zero) mask of the given size.
func New(width, height int) *Mask {
	return &Mask{Width: width, Height: height, Pix: make([]uint8, width*height)}
}

// At reports whether the pixel at column x, row y is set. Pixels outside the
// mask are not set.
func (m *Mask) At(x, y int) bool {
	if x < 0 || y < 0 || x >= m.Width || y >= m.Height {
		return false
	}
	return m.Pix[y*m.Width+x] != 0
}

// Set sets or clears the pixel at column x, row y; pixels outside are ignored.
func (m *Mask) Set(x, y int, v bool) {
	if x < 0 || y < 0 || x >= m.Width || y >= m.Height {
		return
	}
	if v {
		m.Pix[y*m.Width+x] = 1
	} else {
		m.Pix[y*m.Width+x] = 0
	}
}

// Count returns the number of set pixels.
func (m *Mask) Count() int {
	n := 0
	for _, p := range m.Pix {
		if p != 0 {
			n++
		}
	}
	return n
}

// Empty reports whether no pixel is set.
func (m *Mask) Empty() bool {
	for _, p := range m.Pix {
		if p != 0 {
			return false
		}
	}
	return true
}

// Clone returns a deep copy of m.
func (m *Mask) Clone() *Mask {
	c := &Mask{Width: m.Width, Height: m.Height, Pix: make([]uint8, len(m.Pix))}
	copy(c.Pix, m.Pix)
	return c
}

func (m *Mask) sameSize(o *Mask) error {
	if m.Width != o.Width || m.Height != o.Height {
		return fmt.Errorf("mask sizes differ: %dx%d and %dx%d", m.Width, m.Height, o.Width, o.Height)
	}
	return nil
}

// Or sets in m every pixel set in o (m = m ∪ o). The masks must be the same size.
func (m *Mask) Or(o *Mask) error {
	if err := m.sameSize(o); err != nil {
		return err
	}
	for i, p := range o.Pix {
		if p != 0 {
			m.Pix[i] = 1
		}
	}
	return nil
}

// And clears in m every pixel not set in o (m = m ∩ o). The masks must be the
// same size.
func (m *Mask) And(o *Mask) error {
	if err := m.sameSize(o); err != nil {
		return err
	}
	for i, p := range o.Pix {
		if p == 0 {
			m.Pix[i] = 0
		}
	}
	return nil
}

// IntersectCount returns |m ∩ o|. The masks must be the same size.
func (m *Mask) IntersectCount(o *Mask) (int, error) {
	if err := m.sameSize(o); err != nil {
		return 0, err
	}
	n := 0
	for i, p := range o.Pix {
		if p != 0 && m.Pix[i] != 0 {
			n++
		}
	}
	return n, nil
}
