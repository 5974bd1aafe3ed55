package unet

import (
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/compute"
	// The Go backend, and XLA unless built with -tags=noxla.
	_ "github.com/gomlx/gomlx/backends/default"

	"github.com/covidxray/opacity/xla/gofast"
)

// NewBackend returns the compute backend named by spec, or by the
// environment variable GOMLX_BACKEND when spec is empty, or the pure-Go
// backend when both are empty (also in binaries built with XLA: XLA is used
// only when asked for, since it needs a PJRT plugin at run time).
//
// The spec is "<name>[:<config>]", e.g. "go", "xla:cpu", "xla:cuda" or
// "xla:/path/to/pjrt_c_api_cuda_plugin.so". For the Go backend, unless the
// spec chooses an execution mode itself, NewBackend adds "ops_parallel":
// run independent graph nodes in parallel even when other graphs execute
// at the same time. (The Go backend can deadlock when several matrix
// multiplications run at once; the model's fast ops serialise them, see
// ops.dot. Graphs built elsewhere that run many independent matrix
// multiplications should use "go:ops_sequential".)
func NewBackend(spec string) (compute.Backend, error) {
	spec = BackendSpec(spec)
	name, config, _ := strings.Cut(spec, ":")
	if name == "go" && !strings.Contains(config, "ops_") {
		if config == "" {
			config = "ops_parallel"
		} else {
			config += ",ops_parallel"
		}
		spec = name + ":" + config
	}
	b, err := newWithConfig(spec)
	if err != nil {
		return nil, fmt.Errorf("backend %q: %w", spec, err)
	}
	return b, nil
}

// BackendSpec resolves a backend spec as NewBackend does: spec itself, or
// GOMLX_BACKEND when spec is empty, or "go" when both are (the experiment
// layer's Backend setting reads the same variable into its spec).
func BackendSpec(spec string) string {
	if spec == "" {
		spec = os.Getenv(compute.ConfigEnvVar)
	}
	if spec == "" {
		spec = "go"
	}
	return spec
}

// IsGoSpec reports whether a backend spec (resolved by BackendSpec) names
// the pure-Go backend.
func IsGoSpec(spec string) bool {
	name, _, _ := strings.Cut(BackendSpec(spec), ":")
	return name == "go"
}

// isGo reports whether b is the pure-Go backend.
func isGo(b compute.Backend) bool { return gofast.IsGoBackend(b) }

// newWithConfig calls compute.NewWithConfig, turning its panics (unknown
// backend name) into errors.
func newWithConfig(spec string) (b compute.Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("%v (backends compiled in: %s)", r, strings.Join(compute.List(), ", "))
		}
	}()
	return compute.NewWithConfig(spec)
}
