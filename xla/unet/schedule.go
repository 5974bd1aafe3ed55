package unet

import (
	"fmt"
	"math"

	"github.com/gomlx/gomlx/core/tensors"
	"github.com/gomlx/gomlx/ml/model"
	"github.com/gomlx/gomlx/ml/train/optimizer"
)

// Learning-rate schedules of TrainConfig.LRSchedule.
const (
	// ScheduleConstant keeps the learning rate at TrainConfig.LearningRate
	// (the paper's training; the empty string means the same).
	ScheduleConstant = "constant"
	// ScheduleCosine decays it from TrainConfig.LearningRate to 0 along half
	// a cosine over the run's steps (Loshchilov and Hutter's SGDR without
	// restarts; PyTorch's CosineAnnealingLR with T_max the run's steps).
	ScheduleCosine = "cosine"
)

// CheckSchedule reports an unknown learning-rate schedule (the empty one is
// ScheduleConstant).
func CheckSchedule(s string) error {
	switch s {
	case "", ScheduleConstant, ScheduleCosine:
		return nil
	}
	return fmt.Errorf("learning-rate schedule %q: want %s or %s", s, ScheduleConstant, ScheduleCosine)
}

// ScheduledRate returns the learning rate of step (0-based) of a run of
// total steps under schedule, starting from base:
//
//	constant: base
//	cosine:   base * (1 + cos(pi * step / total)) / 2
//
// Steps at or beyond total (a run resumed for more epochs than planned)
// keep the last rate of the schedule.
func ScheduledRate(schedule string, base float64, step, total int64) float64 {
	if schedule != ScheduleCosine || total <= 0 {
		return base
	}
	step = min(max(step, 0), total)
	return base * (1 + math.Cos(math.Pi*float64(step)/float64(total))) / 2
}

// learningRatePath is the store path of Adam's learning-rate variable.
var learningRatePath = model.JoinPath(model.RootScopePath+optimizer.Scope, optimizer.ParamLearningRate)

// SetLearningRate sets the learning rate of the following training steps.
// It can be called before the first step.
func (m *Model) SetLearningRate(lr float64) error {
	if !(lr >= 0) || math.IsInf(lr, 0) {
		return fmt.Errorf("learning rate must be finite and >= 0, got %g", lr)
	}
	v, err := m.store.CreateVariable(learningRatePath, tensors.FromValue(float32(lr)))
	if err != nil {
		return err
	}
	v.SetTrainable(false)
	return v.SetValue(tensors.FromValue(float32(lr)))
}

// LearningRate returns the learning rate of the next training step.
func (m *Model) LearningRate() (float64, error) {
	v := m.store.GetVariable(learningRatePath)
	if v == nil {
		return m.learningRate, nil
	}
	t, err := v.Value()
	if err != nil {
		return 0, err
	}
	return scalarFloat(t)
}
