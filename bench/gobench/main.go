// Command gobench times training steps (or inference, -mode infer) of the
// U-Net-ResNet18 of package xla/unet on random data, the Go counterpart of
// the PyTorch reference's bench.py (in the folder scripts/bench.sh takes as
// PYTORCH_DIR; not part of this repository): one fixed random batch (normal
// input, a mask with 30% ones), a few warm-up steps, then the median of the
// timed steps. It prints a summary and one line starting with RESULT (JSON),
// with the same field names as bench.py where they mean the same thing.
//
// Usage:
//
//	gobench [-mode train|infer] [-size 128] [-batch 8] [-steps 5] [-warmup 2] [-channels 1]
//	        [-recompute auto|on|off] [-lanes 0] [-cpuprofile FILE] [-memprofile FILE] [-heaptrace FILE]
//
// The backend comes from GOMLX_BACKEND (default: the Go backend when built
// with -tags noxla).
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	_ "github.com/gomlx/gomlx/backends/default"
	"github.com/gomlx/gomlx/core/tensors"

	"github.com/covidxray/opacity/xla/unet"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "gobench:", err)
		os.Exit(1)
	}
}

func run() error {
	mode := flag.String("mode", "train", "train (a training step: forward, backward, Adam) or infer (the forward pass to probabilities)")
	size := flag.Int("size", 128, "image side (multiple of 32)")
	batch := flag.Int("batch", 8, "batch size")
	steps := flag.Int("steps", 5, "timed steps (median reported)")
	warmup := flag.Int("warmup", 2, "untimed warm-up steps (the first one compiles)")
	channels := flag.Int("channels", 1, "input channels (1 or 3)")
	recompute := flag.String("recompute", "auto", "rebuild im2col patches in the backward pass: auto, on or off")
	lanes := flag.Int("lanes", 0, "batch lanes on the Go backend (0: automatic; see unet.Config.Lanes)")
	seed := flag.Int64("seed", 0, "seed of the weights and the random batch")
	cpuProfile := flag.String("cpuprofile", "", "write a CPU profile of the timed steps to this file")
	memProfile := flag.String("memprofile", "", "write a heap profile after the timed steps to this file")
	heapTrace := flag.String("heaptrace", "", "write the Go heap in use every 5 ms to this file (Unix ns and bytes per line, the clock of the backend's op timeline)")
	flag.Parse()

	backend, err := unet.NewBackend("")
	if err != nil {
		return err
	}
	cfg := unet.DefaultConfig()
	cfg.InChannels = *channels
	cfg.Lanes = *lanes
	switch *recompute {
	case "on":
		cfg.Recompute = true
	case "off":
		cfg.Recompute = false
	case "auto":
		cfg.Recompute = unet.RecomputeByDefault(*batch, *size, *size)
	default:
		return fmt.Errorf("-recompute must be auto, on or off, got %q", *recompute)
	}
	if *mode != "train" && *mode != "infer" {
		return fmt.Errorf("-mode must be train or infer, got %q", *mode)
	}
	var memLimit int64
	if *mode == "train" && strings.HasPrefix(backend.String(), "go") {
		memLimit = unet.SetTrainingMemoryLimit(*batch, *size, *size, cfg.Recompute, 0)
	}
	m, err := unet.NewModel(backend, cfg, *seed, unet.DefaultLearningRate)
	if err != nil {
		return err
	}
	images, masks := randomBatch(uint64(*seed), *batch, *size, *channels)

	peak, err := newHeapSampler(*heapTrace)
	if err != nil {
		return err
	}
	defer peak.stop()
	var times, losses []float64
	var wall0 time.Time
	var cpu0, busy0 float64
	for i := 0; i < *warmup+*steps; i++ {
		if i == *warmup {
			if *cpuProfile != "" {
				f, err := os.Create(*cpuProfile)
				if err != nil {
					return err
				}
				defer f.Close()
				if err := pprof.StartCPUProfile(f); err != nil {
					return err
				}
				defer pprof.StopCPUProfile()
			}
			wall0, cpu0, busy0 = time.Now(), processCPUSeconds(), busyCPUSeconds()
		}
		t0 := time.Now()
		// The step consumes its tensors: give it copies of the fixed batch.
		in := tensors.FromFlatDataAndDimensions(slices.Clone(images), *batch, *size, *size, *channels)
		var loss float64
		if *mode == "train" {
			loss, err = m.TrainStep(in, tensors.FromFlatDataAndDimensions(slices.Clone(masks), *batch, *size, *size, 1))
		} else {
			var probs *tensors.Tensor
			if probs, err = m.Probabilities(in); err == nil {
				probs.FinalizeAll()
			}
			in.FinalizeAll()
		}
		if err != nil {
			return err
		}
		dt := time.Since(t0).Seconds()
		if i >= *warmup {
			times = append(times, dt)
		}
		losses = append(losses, loss)
		fmt.Fprintf(os.Stderr, "step %d: %.3f s, loss %.4f\n", i, dt, loss)
	}
	wall := time.Since(wall0).Seconds()
	ownCPU := processCPUSeconds() - cpu0
	others := (busyCPUSeconds() - busy0 - ownCPU) / (wall * float64(runtime.NumCPU()))
	if *memProfile != "" {
		f, err := os.Create(*memProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.WriteHeapProfile(f); err != nil {
			return err
		}
	}

	sorted := slices.Clone(times)
	slices.Sort(sorted)
	med := median(sorted)
	res := map[string]any{
		"impl": "gomlx", "backend": backend.Name(), "mode": *mode,
		"batch": *batch, "size": *size, "channels": *channels,
		"recompute": cfg.Recompute, "lanes": *lanes, "steps": *steps, "warmup": *warmup,
		"s_per_step": med, "s_min": sorted[0], "s_max": sorted[len(sorted)-1],
		"img_per_s": float64(*batch) / med, "cpu_s_per_step": ownCPU / float64(*steps),
		"others_cpu_frac": max(0, others), "maxrss_mib": maxRSSMiB(),
		"first_loss": losses[0], "last_loss": losses[len(losses)-1],
		"gomaxprocs": runtime.GOMAXPROCS(0), "peak_heap_mib": peak.maxHeapMiB(), "simd": unet.SIMD,
		"go_memory_limit_mib": float64(memLimit) / (1 << 20),
	}
	if !unet.SIMD {
		fmt.Println("  WARNING: built without GOEXPERIMENT=simd (portable matrix multiplication, ~10x slower)")
	}
	fmt.Printf("%s b=%d %dx%d c=%d backend=%s recompute=%v: median %.3f s/step [min %.3f, max %.3f], %.2f img/s, ru_maxrss %.0f MiB\n",
		*mode, *batch, *size, *size, *channels, backend.Name(), cfg.Recompute, med, sorted[0], sorted[len(sorted)-1],
		float64(*batch)/med, maxRSSMiB())
	fmt.Printf("  peak Go heap in use %.0f MiB (sampled every %v), Go soft memory limit %.0f MiB\n", peak.maxHeapMiB(), peak.period, float64(memLimit)/(1<<20))
	fmt.Printf("  other processes used %.0f%% of the %d CPUs during the timed steps\n", 100*max(0, others), runtime.NumCPU())
	if *mode == "train" {
		fmt.Printf("  loss %.4f -> %.4f over %d steps\n", losses[0], losses[len(losses)-1], len(losses))
	}
	out, err := json.Marshal(res)
	if err != nil {
		return err
	}
	fmt.Println("RESULT " + string(out))
	return nil
}

// randomBatch returns images (standard normal values mapped to the model's
// 0..255 input range) and masks with about 30% ones.
func randomBatch(seed uint64, batch, size, channels int) (images, masks []float32) {
	rng := rand.New(rand.NewPCG(seed, 1))
	images = make([]float32, batch*size*size*channels)
	for i := range images {
		images[i] = float32(127.5 + 127.5*rng.NormFloat64()/3)
	}
	masks = make([]float32, batch*size*size)
	for i := range masks {
		if rng.Float64() < 0.3 {
			masks[i] = 1
		}
	}
	return images, masks
}

// heapSampler records the largest HeapInuse seen by a background sampler
// (every 20 ms), and with a trace file every value it sees (every 5 ms).
type heapSampler struct {
	done, stopped chan struct{}
	max           atomic.Uint64
	period        time.Duration
}

// newHeapSampler starts the sampler; trace, when not empty, is the file of
// its samples ("unix-ns heap-in-use-bytes" per line), written when it stops.
func newHeapSampler(trace string) (*heapSampler, error) {
	h := &heapSampler{done: make(chan struct{}), stopped: make(chan struct{}), period: 20 * time.Millisecond}
	var w *bufio.Writer
	var f *os.File
	if trace != "" {
		var err error
		if f, err = os.Create(trace); err != nil {
			return nil, err
		}
		w = bufio.NewWriter(f)
		h.period = 5 * time.Millisecond
	}
	go func() {
		defer close(h.stopped)
		t := time.NewTicker(h.period)
		defer t.Stop()
		var ms runtime.MemStats
		for {
			select {
			case <-h.done:
				if w != nil {
					if err := w.Flush(); err != nil {
						fmt.Fprintf(os.Stderr, "gobench: %s: %v\n", trace, err)
					}
					if err := f.Close(); err != nil {
						fmt.Fprintf(os.Stderr, "gobench: %s: %v\n", trace, err)
					}
				}
				return
			case now := <-t.C:
				runtime.ReadMemStats(&ms)
				if ms.HeapInuse > h.max.Load() {
					h.max.Store(ms.HeapInuse)
				}
				if w != nil {
					fmt.Fprintf(w, "%d %d\n", now.UnixNano(), ms.HeapInuse)
				}
			}
		}
	}()
	return h, nil
}

// stop ends the sampler and waits for its trace to be written.
func (h *heapSampler) stop() {
	close(h.done)
	<-h.stopped
}

func (h *heapSampler) maxHeapMiB() float64 { return float64(h.max.Load()) / (1 << 20) }

func median(sorted []float64) float64 {
	n := len(sorted)
	if n%2 == 1 {
		return sorted[n/2]
	}
	return (sorted[n/2-1] + sorted[n/2]) / 2
}

// maxRSSMiB is the peak resident set size of this process.
func maxRSSMiB() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Maxrss) / 1024 // Linux reports KiB
}

// processCPUSeconds is the user+system CPU time of this process.
func processCPUSeconds() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	tv := func(t syscall.Timeval) float64 { return float64(t.Sec) + float64(t.Usec)/1e6 }
	return tv(ru.Utime) + tv(ru.Stime)
}

// busyCPUSeconds is the CPU time all processes of the machine spent busy,
// from /proc/stat (0 where it cannot be read).
func busyCPUSeconds() float64 {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	if len(fields) < 9 || fields[0] != "cpu" {
		return 0
	}
	var total, idle float64
	for i, f := range fields[1:9] {
		v, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return 0
		}
		total += v
		if i == 3 || i == 4 { // idle, iowait
			idle += v
		}
	}
	return (total - idle) / 100 // USER_HZ is 100 on Linux
}
