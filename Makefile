# The two commands a newcomer needs: `make demo` (the main job) and `make test` (everything CI runs).
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help demo test deps lint unit control-plane bench crds readme-rules

help:
	@echo "make demo           two local clusters (demo-a, demo-b) seeded from examples/, until Ctrl-C"
	@echo "make test           format check, clippy, and every test (builds the local control plane if missing)"
	@echo "make control-plane  build kube-apiserver and etcd from Go modules into ~/.cache (idempotent)"
	@echo "make bench          engine and check benchmarks (release build)"
	@echo "make crds           regenerate helm/kube-guardian/crds/crds.yaml from the code"
	@echo "make readme-rules   print the README rule table"

# Builds what is missing (control plane, kube-guardian), then runs until Ctrl-C and cleans up.
demo:
	bash tests/control-plane/build.sh --with-controller-manager
	cargo build -p kube-guardian
	cargo run -p guardian-testenv --bin demo -- --operator-bin target/debug/kube-guardian

# CI builds once from a clean clone: incremental caches would only cost disk (~1.6 GB).
ifneq ($(filter-out false 0,$(CI)),)
export CARGO_INCREMENTAL ?= 0
endif

test: deps control-plane lint unit

deps:
	bash tests/deps.sh

control-plane:
	bash tests/control-plane/build.sh --with-controller-manager

lint:
	cargo fmt --all --check
	cargo clippy --workspace --all-targets --locked -- -D warnings

unit:
	cargo test --workspace --locked

bench:
	cargo bench -p guardian-core --bench engine
	cargo build --release --locked
	bash -c 'time taskset -c 0 target/release/kube-guardian check target/bench-corpus -o json > /dev/null; test $$? -le 1'

crds:
	cargo run -q -- crd > helm/kube-guardian/crds/crds.yaml

readme-rules:
	cargo run -q -- rules --output markdown
