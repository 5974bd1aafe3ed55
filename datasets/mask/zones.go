package mask

import (
	"fmt"
	"math"
)

// BrixiaZoneNames are the zone letters in the order of BrixiaZones and of
// BrixiaScore.Zones.
const BrixiaZoneNames = "ABCDEF"

// LungZones splits the mask of ONE lung into its upper, middle and lower
// zones (in that order) by thirds of the lung's height. Let y0 and y1 be the
// first and last rows holding a set pixel of lung (inclusive) and
// H = y1-y0+1; a set pixel of row y goes to zone floor(3*(y-y0)/H), in
// integer arithmetic: 0 upper, 1 middle, 2 lower. So a 9-row lung gives 3
// rows per zone and a 10-row lung rows y0..y0+3 (4 rows) upper, y0+4..y0+6
// middle and y0+7..y0+9 lower. The zones depend on the rows only: an
// irregular lung keeps its shape within each band, and a zone may even be
// empty when the lung has no pixel in its rows.
//
// This is a geometric stand-in for the anatomical landmarks of the Brixia
// score (the inferior wall of the aortic arch and of the right inferior
// pulmonary vein), which a lung mask does not show.
//
// The three masks are new, of lung's size; together they hold exactly the
// set pixels of lung. An empty or invalid lung (see the package's mask
// conventions in ops.go) gives three all-zero masks shaped like it.
func LungZones(lung *Mask) [3]*Mask {
	var zones [3]*Mask
	for k := range zones {
		zones[k] = zeroLike(lung)
	}
	if !lung.valid() {
		return zones
	}
	w := lung.Width
	y0, y1 := -1, -1
	for y := range lung.Height {
		for _, p := range lung.Pix[y*w : (y+1)*w] {
			if p != 0 {
				if y0 < 0 {
					y0 = y
				}
				y1 = y
				break
			}
		}
	}
	if y0 < 0 {
		return zones
	}
	h := y1 - y0 + 1
	for y := y0; y <= y1; y++ {
		dst := zones[3*(y-y0)/h].Pix[y*w : (y+1)*w]
		for x, p := range lung.Pix[y*w : (y+1)*w] {
			if p != 0 {
				dst[x] = 1
			}
		}
	}
	return zones
}

// BrixiaZones returns the six Brixia zones in the order A..F of
// BrixiaScore.Zones: the upper, middle and lower zones (LungZones) of the
// right lung, then those of the left lung. right and left are one lung each,
// as SplitLungs returns them; each lung is cut by its own height.
func BrixiaZones(right, left *Mask) [6]*Mask {
	r, l := LungZones(right), LungZones(left)
	return [6]*Mask{r[0], r[1], r[2], l[0], l[1], l[2]}
}

// ZoneShares returns, for each of the six zones, the share of the zone's
// pixels that opacity covers: |opacity ∩ zone| / |zone|, in [0, 1], and NaN
// for an empty zone. Every zone must have opacity's Width and Height (and be
// a valid mask); otherwise it is an error naming the zone.
func ZoneShares(opacity *Mask, zones [6]*Mask) ([6]float64, error) {
	var shares [6]float64
	if !opacity.valid() {
		return shares, fmt.Errorf("zone shares: invalid opacity mask")
	}
	for k, z := range zones {
		if !z.valid() || z.Width != opacity.Width || z.Height != opacity.Height {
			if z == nil {
				return shares, fmt.Errorf("zone shares: zone %c is nil", BrixiaZoneNames[k])
			}
			return shares, fmt.Errorf("zone shares: zone %c is %dx%d (%d pixels), the opacity mask %dx%d",
				BrixiaZoneNames[k], z.Width, z.Height, len(z.Pix), opacity.Width, opacity.Height)
		}
		in, both := 0, 0
		for i, p := range z.Pix {
			if p != 0 {
				in++
				if opacity.Pix[i] != 0 {
					both++
				}
			}
		}
		if in == 0 {
			shares[k] = math.NaN()
		} else {
			shares[k] = float64(both) / float64(in)
		}
	}
	return shares, nil
}
