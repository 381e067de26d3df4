# tinyctl: the two commands a new user runs are `make demo` and `make test` (see README.md).
SHELL := /bin/bash
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
# The demo builds every image locally (no registry needed); IMAGES=official uses Docker Hub.
IMAGES ?= debian
DEMO ?= demo

.PHONY: help setup install engine local-runtime tools podman demo demo-down test test-fast test-podman chaos fuzz lint bench clean

help:
	@echo "make demo       set everything up, then init + up + seed + test-etl a sample project"
	@echo "make test       run every test (real Docker engine, Postgres and Airflow)"
	@echo "make test-fast  the tests that need no engine (seconds)"
	@echo "make test-podman  the core real-stack tests on Podman (its own service and storage)"
	@echo "make chaos      the whole fault sweep: killed commands, dying services, full disks, OOM (CHAOS_SEED=22)"
	@echo "make fuzz       a long random run of the hostile-spec fuzz suite (FUZZ_EXAMPLES=5000)"
	@echo "make lint       ruff, and the layers contract (import-linter)"
	@echo "make bench      benchmarks (bench/)"

$(BIN)/tinyctl: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	@touch $@

install: $(BIN)/tinyctl

engine: install
	docker/provision-engine.sh $(VENV)

# PostgreSQL server binaries for the local runtime (the stack as local processes, no Docker).
local-runtime: install
	docker/provision-local.sh $(VENV)

# gitlab-ci-local: the engine tests execute the pipeline `tinyctl ci init gitlab` writes;
# helm, kubectl (into the venv) and docker-registry: the Kubernetes target's tests.
tools: install
	.ci/provision-tools.sh $(VENV)

# Debian's podman: `make test-podman` runs the Compose runtime on Podman's Docker API.
podman: install engine
	.ci/provision-podman.sh

setup: install engine local-runtime

# Works with or without a Docker engine: `runtime: auto` uses compose when one answers, else local.
demo: install local-runtime
	docker/provision-engine.sh --optional $(VENV)
	@test -f $(DEMO)/tinyctl.yaml || $(BIN)/tinyctl init $(DEMO) --images $(IMAGES)
	cd $(DEMO) && ../$(BIN)/tinyctl up && ../$(BIN)/tinyctl seed && ../$(BIN)/tinyctl test-etl --junit report.xml --html report.html

demo-down: install
	cd $(DEMO) && ../$(BIN)/tinyctl down

# Every test; the end-to-end ones run on both runtimes (compose and local).
test: setup tools
	$(BIN)/pytest

# Not part of `make test`: a cold Podman stack (its own image store: the Airflow image is
# built once, ~9 min on 2 cores) costs more than the suite's budget allows; warm, ~4 min.
# The service and its storage (~/.cache/tinyctl-podman) are the tests' own (tests/podman_service.py).
test-podman: install podman
	$(BIN)/pytest -m podman

test-fast: install local-runtime
	$(BIN)/pytest -m "not engine and not stack and not helm and not browser"

# The whole fault suite (tests/faults/, issue 22): every command killed (SIGKILL) and interrupted
# (Ctrl-C) at kill points 0.1 s apart up to its end (at most CHAOS_MAX_POINTS of them, spread
# over the run, drawn with CHAOS_SEED), services killed during work, full disks, the OOM killer;
# on both runtimes. Prints per fault the points tried, recovered and lost, and writes them to
# CHAOS_REPORT. `make test` runs a seeded sample of the sweeps (one point per command and signal).
# Replay a run with the same CHAOS_SEED; CHAOS_POINTS=1.3,2.0 tries exactly those delays.
CHAOS_SEED ?= 22
CHAOS_MAX_POINTS ?= 6
CHAOS_REPORT ?= chaos-report.json
# Last, alone: the Docker engine stopped and started again (it stops every container on it).
chaos: setup
	CHAOS_SEED=$(CHAOS_SEED) CHAOS_MAX_POINTS=$(CHAOS_MAX_POINTS) CHAOS_REPORT=$(CHAOS_REPORT) \
		$(BIN)/pytest -p no:cacheprovider -q -m chaos tests/faults \
		--ignore=tests/faults/test_engine_restart.py
	$(BIN)/pytest -p no:cacheprovider -q -m chaos tests/faults/test_engine_restart.py

# The fuzz suite with fresh random seeds and many more examples than `make test`'s fixed 200;
# its figures (examples, exit codes, slowest case) go to fuzz-stats.json.
FUZZ_EXAMPLES ?= 5000
fuzz: install
	HYPOTHESIS_PROFILE=fuzz TINYCTL_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) TINYCTL_FUZZ_STATS=fuzz-stats.json \
		$(BIN)/pytest -p no:cacheprovider -s -q tests/spec/test_loader_fuzz.py

lint: install
	$(BIN)/ruff check tinyctl tests bench
	$(BIN)/ruff format --check tinyctl tests bench
	$(BIN)/lint-imports --no-logo

bench: setup
	$(BIN)/python bench/bench_up.py
	$(BIN)/python bench/bench_deploy.py
	$(BIN)/python bench/bench_seed_and_test.py
	$(BIN)/python bench/bench_runtimes.py
	$(BIN)/python bench/bench_expected.py
	$(BIN)/python bench/bench_dbt.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache build dist *.egg-info
