# ntkharness: make run (the main job), make test (the full suite).
#
# The OpenBLAS/LAPACKE backend is used when its headers are installed
# (apt-get install -y libopenblas-dev liblapacke-dev); force the pure-Go
# build with `make test TAGS=`.

GO      ?= go
TAGS    ?= $(shell pkg-config --exists openblas lapacke 2>/dev/null && echo openblas)
GOFLAGS := -tags=$(TAGS)
BIN     := bin/ntkharness
OUT     ?= out

.PHONY: all build run test test-cluster bench lint fuzz figures clean

all: build

build:
	$(GO) build $(GOFLAGS) -o $(BIN) ./cmd/ntkharness

# The main job: a quick report of the headline figures (CIFAR-10 from
# $$CIFAR10_DIR when set, else the embedded MNIST), in a few minutes.
run: build
	./$(BIN) report --scale quick --figures phase,depthscales,ntk-depth,mean-predictor,trainability,pooling,agreement,width --out $(OUT)/report

# The whole quick figure suite with its report.
figures: build
	./$(BIN) report --scale quick --out $(OUT)/figures

# The last line says which optional suites ran: the tests on the shared
# data (../shared or $$NTKHARNESS_SHARED) and the OpenBLAS agreement tests.
test:
	@status=0; $(GO) test $(GOFLAGS) ./... || status=$$?; \
	$(GO) test $(GOFLAGS) -count=1 -v -run '^TestOptionalSuites$$' ./internal/testshared | grep '^optional suites:'; \
	exit $$status

# The cluster path on a real scheduler: a one-node Slurm cluster under
# $(SLURM_DIR) (scripts/slurm-local.sh, as root; installs slurm-wlm and munge
# when missing), the tests in tests/cluster against it, and the cluster
# stopped and removed whatever the outcome.
SLURM_DIR ?= /tmp/ntkharness-slurm
test-cluster: build
	@export NTKHARNESS_SLURM_DIR=$(SLURM_DIR) SLURM_CONF=$(SLURM_DIR)/slurm.conf; \
	status=0; \
	scripts/slurm-local.sh up && \
	NTKHARNESS_SLURM=1 NTKHARNESS_BIN=$(CURDIR)/$(BIN) \
		$(GO) test $(GOFLAGS) -count=1 -v -timeout 15m ./tests/cluster || status=$$?; \
	scripts/slurm-local.sh down || status=1; \
	exit $$status

bench:
	$(GO) test $(GOFLAGS) -run '^$$' -bench . -benchtime 3x -count 3 -timeout 0 ./...

lint:
	@test -z "$$(gofmt -l .)" || { echo "gofmt needed:"; gofmt -l .; exit 1; }
	$(GO) vet $(GOFLAGS) ./...

# Short fuzzing of every reader (the seed corpora also run in `make test`).
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzRead -fuzztime 30s ./npy
	$(GO) test -run '^$$' -fuzz FuzzReadIDX -fuzztime 30s ./datasets
	$(GO) test -run '^$$' -fuzz FuzzCIFAR10 -fuzztime 30s ./datasets
	$(GO) test -run '^$$' -fuzz FuzzCompute -fuzztime 30s ./theory

clean:
	rm -rf bin $(OUT)
