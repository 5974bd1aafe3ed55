package datasets

import (
	"fmt"
	"strings"

	"github.com/covidxray/opacity/datasets/mask"
)

// Targets: the named masks a sample carries and a model can be trained to
// predict, one output channel each.
const (
	TargetLungs   = "lungs"   // the lung fields (union of right and left)
	TargetOpacity = "opacity" // every opacity kind merged, as in the paper
)

// KnownTargets lists the targets in their canonical order.
var KnownTargets = []string{TargetLungs, TargetOpacity}

// ParseTargets reads a comma-separated list of targets ("lungs,opacity"),
// refusing unknown and repeated names and the empty list.
func ParseTargets(s string) ([]string, error) {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	if err := CheckTargets(out); err != nil {
		return nil, err
	}
	return out, nil
}

// CheckTargets reports an empty list, an unknown target or a repeated one.
func CheckTargets(targets []string) error {
	if len(targets) == 0 {
		return fmt.Errorf("no target: want one or more of %s", strings.Join(KnownTargets, ", "))
	}
	seen := map[string]bool{}
	for _, t := range targets {
		known := false
		for _, k := range KnownTargets {
			known = known || t == k
		}
		if !known {
			return fmt.Errorf("target %q: want one of %s", t, strings.Join(KnownTargets, ", "))
		}
		if seen[t] {
			return fmt.Errorf("target %q given twice", t)
		}
		seen[t] = true
	}
	return nil
}

// HasTarget reports whether targets holds t.
func HasTarget(targets []string, t string) bool {
	for _, x := range targets {
		if x == t {
			return true
		}
	}
	return false
}

// Mask returns the sample's mask of a target (TargetLungs: Lung,
// TargetOpacity: Opacity), or the class mask of that name; nil when the
// sample has none.
func (s *Sample) Mask(target string) *mask.Mask {
	switch target {
	case TargetLungs:
		return s.Lung
	case TargetOpacity:
		return s.Opacity
	}
	return s.Classes[target]
}

// BothLungs reports whether the sample has a non-empty right and a
// non-empty left lung field (labelme right_lung/left_lung, cxr-seg Right
// Lung/Left Lung). A lung mask missing one side would teach a lung model
// that the side is not lung.
func (s *Sample) BothLungs() bool {
	has := func(names ...string) bool {
		for _, n := range names {
			if m := s.Classes[n]; m != nil && !m.Empty() {
				return true
			}
		}
		return false
	}
	return has(LabelRightLung, ClassRightLung) && has(LabelLeftLung, ClassLeftLung)
}
