# Opacity segmentation reproduction (Tang et al. 2020) in Go.
#
#   make test        vet, unit tests, short fuzz runs, notebooks on a tiny synthetic cohort (and their
#                    numbers' verdict), a notebook run by hand in headless Chromium (make test-browser),
#                    the researcher's full run at the tiny size (make test-full-run)
#   make reproduce   every figure and table of the paper, headless (synthetic cohort by default), then
#                    the verdict: every number against figures/expected-*.csv, PASS or DIFF (fails)
#   make expected    rewrite the expected values from the last make reproduce, on purpose
#   make bench       Go training step and forward pass next to the PyTorch reference (same shapes,
#                    one run), then the host side of training (go test -bench)
#   make bench-profile  where the step's and the forward pass's time goes per kind of work, Go (pprof)
#                    beside PyTorch (torch.profiler), with the convolutions' GFLOP/s against peak
#   make data        download the real data into ./data
#   make notebook    serve the notebooks for a person (Jupyter Notebook from Debian, kernel gonb) on
#                    127.0.0.1:NOTEBOOK_PORT (8888) with a printed token URL; NOTEBOOK_TOKEN, NOTEBOOK_IP
#   make setup       install what the tests and notebooks need (Jupyter from Debian, GoNB, goimports,
#                    chromium and puppeteer-core for the browser test); make test, make reproduce and
#                    make notebook run it first (quick when all is there)
#
# Variables: OPACITY_DATA (data folder; default a synthetic cohort),
# OPACITY_SIZE (tiny | smoke | full), GOMLX_BACKEND (go | xla:cuda | ...).

GO          ?= go
# The pure-Go backend only (no cgo/XLA); `make build-xla` builds the XLA/PJRT binary.
TAGS        ?= noxla
# AVX2 matmul kernels of the Go backend.
export GOEXPERIMENT ?= simd
BIN         := bin/opacity
OPACITY_SIZE ?= smoke
export OPACITY_SIZE
export OPACITY_DATA

.PHONY: all build build-xla test test-go vet fuzz test-notebooks test-browser test-full-run bench bench-profile reproduce data setup clean notebook expected

all: build

build:
	$(GO) build -tags=$(TAGS) -o $(BIN) ./cmd/opacity
	$(GO) build -tags=$(TAGS) -o bin/verdict ./cmd/verdict

# The XLA/PJRT backend (needs cgo; for GPUs: GOMLX_BACKEND=xla:cuda and
# PJRT_PLUGIN_LIBRARY_PATH pointing at a CUDA PJRT plugin, see README.md).
build-xla:
	CGO_ENABLED=1 $(GO) build -o bin/opacity-xla ./cmd/opacity

# third_party/ holds vendored modules (their own go.mod, so ./... leaves them out), kept as upstream
# formatted them; the Go backend's patched packages are tested by test-go.
GOFILES = $$(git ls-files '*.go' ':!:third_party/')
vet:
	@test -z "$$(gofmt -l $(GOFILES))" || { echo "gofmt needed:"; gofmt -l $(GOFILES); exit 1; }
	$(GO) vet -tags=$(TAGS) ./...

test-go:
	$(GO) test -tags=$(TAGS) -count=1 ./...
	cd third_party/gomlx-compute && $(GO) test -count=1 ./internal/gobackend/...

# Short coverage-guided fuzz runs of the parsers (one target at a time, as go test requires).
FUZZTIME ?= 10s
fuzz:
	@scripts/fuzz.sh $(FUZZTIME)

test-notebooks: setup build
	scripts/run-notebooks.sh test

# The student's path in a real browser: make notebook's server on a tiny cohort, notebook 02 in headless
# Chromium, the settings cell changed by typing, Cell > Run All, checks and screenshots in
# .cache/browser-test/ (scripts/browser-test.sh; skips, saying why, where Chromium cannot start).
test-browser: setup
	scripts/browser-test.sh

# The researcher's path end to end at the tiny size on the synthetic cohort, from scratch: scripts/full-run.sh
# (setup, build, opacity train, every notebook reusing its run, the verdict, which must PASS, the report).
test-full-run: setup
	rm -rf .cache/full-run/test
	FULL_RUN_SIZE=tiny FULL_RUN_OUT=.cache/full-run/test VERDICT_REQUIRED=1 scripts/full-run.sh synthetic

test: vet test-go fuzz test-notebooks test-browser test-full-run

bench:
	scripts/bench.sh

bench-profile:
	scripts/bench-profile.sh

reproduce: setup build
	scripts/run-notebooks.sh reproduce

# A live notebook server for a person (scripts/notebook.sh: the port, token and address, an SSH tunnel).
notebook: setup
	scripts/notebook.sh

# Rewrites the expected values of the last make reproduce's settings from its numbers, on purpose
# (scripts/verdict.sh update; REPRODUCE.md, "The reviewer's verdict"). Commit the file with the reason.
expected: build
	scripts/verdict.sh update $(OPACITY_FIGURES)

data: build
	$(BIN) data fetch --data data

setup:
	scripts/setup.sh

clean:
	rm -rf bin
	find figures -mindepth 1 -maxdepth 1 ! -name README.md ! -name 'expected*.csv' -exec rm -rf {} +
