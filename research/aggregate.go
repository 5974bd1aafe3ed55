package research

import "fmt"

// Aggregate says how the scores of a patient's images become one score per
// patient.
type Aggregate string

// The aggregates of per-patient analysis.
const (
	AggregateMax   Aggregate = "max"   // the highest score among the patient's images (default)
	AggregateFirst Aggregate = "first" // the score of the patient's first image, in the order given
	AggregateMean  Aggregate = "mean"  // the mean score of the patient's images
)

// ParseAggregate returns the Aggregate named s ("max", "first" or "mean").
func ParseAggregate(s string) (Aggregate, error) {
	switch a := Aggregate(s); a {
	case AggregateMax, AggregateFirst, AggregateMean:
		return a, nil
	}
	return "", fmt.Errorf("unknown aggregate %q: want max, first or mean", s)
}

// PatientScores is one score and one outcome per patient.
type PatientScores struct {
	Patients []string // in order of first appearance
	Scores   []float64
	Labels   []bool
	Images   []int // number of images of each patient
}

// AggregateByPatient turns per-image scores and outcomes into one score per
// patient: patients[i], scores[i] and labels[i] belong to image i. The
// outcome of a patient must be the same on all its images. For
// AggregateFirst, "first" is the first image of the patient in the order
// given: order the images by study date first when that is what is meant.
func AggregateByPatient(patients []string, scores []float64, labels []bool, agg Aggregate) (PatientScores, error) {
	if len(patients) != len(scores) || len(scores) != len(labels) {
		return PatientScores{}, fmt.Errorf("aggregate by patient: %d patients, %d scores, %d labels: want one of each per image", len(patients), len(scores), len(labels))
	}
	if _, err := ParseAggregate(string(agg)); err != nil {
		return PatientScores{}, err
	}
	var out PatientScores
	index := map[string]int{}
	for i, p := range patients {
		k, ok := index[p]
		if !ok {
			index[p] = len(out.Patients)
			out.Patients = append(out.Patients, p)
			out.Scores = append(out.Scores, scores[i])
			out.Labels = append(out.Labels, labels[i])
			out.Images = append(out.Images, 1)
			continue
		}
		if out.Labels[k] != labels[i] {
			return PatientScores{}, fmt.Errorf("aggregate by patient: patient %s has images with different outcomes", p)
		}
		out.Images[k]++
		switch agg {
		case AggregateMax:
			if scores[i] > out.Scores[k] {
				out.Scores[k] = scores[i]
			}
		case AggregateMean:
			out.Scores[k] += scores[i] // summed here, divided below
		}
	}
	if agg == AggregateMean {
		for k := range out.Scores {
			out.Scores[k] /= float64(out.Images[k])
		}
	}
	return out, nil
}
