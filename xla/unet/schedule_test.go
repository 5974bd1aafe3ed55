package unet

import (
	"context"
	"math"
	"testing"

	"github.com/gomlx/gomlx/core/tensors"
)

func TestScheduledRate(t *testing.T) {
	// cosine: base (1 + cos(pi step/total)) / 2, worked out by hand for
	// base 1e-3 and total 8: step 2 is a quarter of the way,
	// (1 + cos(pi/4))/2 = (1 + 0.70710678)/2 = 0.85355339.
	tests := []struct {
		schedule    string
		step, total int64
		want        float64
	}{
		{"", 5, 8, 1e-3},
		{ScheduleConstant, 5, 8, 1e-3},
		{ScheduleCosine, 0, 8, 1e-3},
		{ScheduleCosine, 2, 8, 0.85355339e-3},
		{ScheduleCosine, 4, 8, 0.5e-3},
		{ScheduleCosine, 6, 8, 0.14644661e-3}, // (1 - 0.70710678)/2
		{ScheduleCosine, 8, 8, 0},
		{ScheduleCosine, 12, 8, 0}, // beyond the planned steps: the last rate
		{ScheduleCosine, 3, 0, 1e-3},
	}
	for _, tc := range tests {
		got := ScheduledRate(tc.schedule, 1e-3, tc.step, tc.total)
		if math.Abs(got-tc.want) > 1e-11 {
			t.Errorf("ScheduledRate(%q, 1e-3, %d, %d) = %.10g, want %.10g", tc.schedule, tc.step, tc.total, got, tc.want)
		}
	}
}

func TestTrainConfigValidateSchedule(t *testing.T) {
	cfg := tinyTrainConfig()
	for _, s := range []string{"", ScheduleConstant, ScheduleCosine} {
		cfg.LRSchedule = s
		if err := cfg.Validate(); err != nil {
			t.Errorf("schedule %q: %v", s, err)
		}
	}
	cfg.LRSchedule = "linear"
	if err := cfg.Validate(); err == nil {
		t.Error("schedule \"linear\": no error")
	}
	a, b := tinyTrainConfig(), tinyTrainConfig()
	b.LRSchedule = ScheduleConstant
	if !a.SameRun(b) {
		t.Error(`schedule "" and "constant" should be the same run`)
	}
	b.LRSchedule = ScheduleCosine
	if a.SameRun(b) {
		t.Error("constant and cosine schedules should be different runs")
	}
}

// headWeight copies the head's kernel, a variable every step updates.
func headWeight(t *testing.T, m *Model) []float32 {
	t.Helper()
	v := m.Store().GetVariable("/unet/head/weight")
	if v == nil {
		t.Fatal("no /unet/head/weight variable")
	}
	val, err := v.Value()
	if err != nil {
		t.Fatal(err)
	}
	w, err := tensors.CopyFlatData[float32](val)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// TestSetLearningRate checks that the rate set is the one Adam uses: a
// step at rate 0 leaves the weights as they are, a step at a positive rate
// moves them (by at most about the rate per weight: Adam's first step is
// lr * g/|g|).
func TestSetLearningRate(t *testing.T) {
	backend, err := NewBackend("go")
	if err != nil {
		t.Fatal(err)
	}
	m, err := NewModel(backend, TinyConfig(), 1, 1e-3)
	if err != nil {
		t.Fatal(err)
	}
	if lr, err := m.LearningRate(); err != nil || lr != 1e-3 {
		t.Fatalf("LearningRate() before any step = %g, %v; want 1e-3", lr, err)
	}
	set := syntheticSet(2, 64, 1)
	step := func() {
		it, mt := setTensors(t, set, 64)
		if _, err := m.TrainStep(it, mt); err != nil {
			t.Fatal(err)
		}
	}
	if err := m.SetLearningRate(0); err != nil {
		t.Fatal(err)
	}
	if err := m.InitVariables(64, 64); err != nil {
		t.Fatal(err)
	}
	w0 := headWeight(t, m)
	step()
	w1 := headWeight(t, m)
	for i := range w0 {
		if w0[i] != w1[i] {
			t.Fatalf("a step at learning rate 0 changed the head weight %d: %g -> %g", i, w0[i], w1[i])
		}
	}
	if err := m.SetLearningRate(1e-2); err != nil {
		t.Fatal(err)
	}
	if lr, err := m.LearningRate(); err != nil || math.Abs(lr-1e-2) > 1e-9 {
		t.Fatalf("LearningRate() = %g, %v; want 1e-2", lr, err)
	}
	step()
	w2 := headWeight(t, m)
	moved := 0
	for i := range w1 {
		d := math.Abs(float64(w2[i] - w1[i]))
		if d > 0 {
			moved++
		}
		if d > 1.5e-2 {
			t.Errorf("head weight %d moved by %g at learning rate 1e-2", i, d)
		}
	}
	if moved == 0 {
		t.Error("a step at learning rate 1e-2 left the head weights unchanged")
	}
	if err := m.SetLearningRate(math.NaN()); err == nil {
		t.Error("SetLearningRate(NaN): no error")
	}
}

// TestTrainCosineSchedule trains 2 epochs of 2 steps with the cosine
// schedule: the last step runs at base (1 + cos(3 pi/4))/2 =
// base (1 - 0.70710678)/2.
func TestTrainCosineSchedule(t *testing.T) {
	train := syntheticSet(4, 64, 1)
	cfg := tinyTrainConfig()
	cfg.Epochs = 2
	cfg.LRSchedule = ScheduleCosine
	res, err := Train(context.Background(), cfg, train, nil)
	if err != nil {
		t.Fatal(err)
	}
	lr, err := res.Model.LearningRate()
	if err != nil {
		t.Fatal(err)
	}
	want := 1e-3 * (1 - 0.70710678) / 2
	if math.Abs(lr-want) > 1e-9 {
		t.Errorf("learning rate of the last step = %.8g, want %.8g", lr, want)
	}
	if res.Model.GlobalStep() != 4 {
		t.Errorf("global step = %d, want 4", res.Model.GlobalStep())
	}
}
