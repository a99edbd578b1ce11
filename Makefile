# The two commands a newcomer needs: `make demo` (the main job) and `make test` (everything CI runs).
SHELL := /bin/bash
.DEFAULT_GOAL := help

.PHONY: help demo test deps lint unit control-plane bench crds readme-rules print-ci

help:
	@echo "make demo           two local clusters (demo-a, demo-b) with operators, in the console; q stops all"
	@echo "make test           format check, clippy, and every test (builds the local control plane if missing)"
	@echo "make control-plane  build kube-apiserver, etcd and helm from Go modules into ~/.cache (idempotent)"
	@echo "make bench          engine and check benchmarks (release build)"
	@echo "make crds           regenerate helm/kube-guardian/crds/crds.yaml from the code"
	@echo "make readme-rules   print the README rule table"

# Builds what is missing (control plane, kube-guardian), starts the clusters and operators, opens
# the console (kube-guardian tui) in the foreground, and cleans up when it quits.
demo:
	bash tests/control-plane/build.sh --with-controller-manager
	cargo build -p kube-guardian
	cargo run -p guardian-testenv --bin demo -- --operator-bin target/debug/kube-guardian

# CI is on when set to anything but empty, 0 or false (any case, whitespace ignored): the rule of
# guardian_core::ci::is_on, which tests/ci_rule.rs keeps in step with this one.
lowercase = $(subst A,a,$(subst B,b,$(subst C,c,$(subst D,d,$(subst E,e,$(subst F,f,$(subst G,g,$(subst H,h,$(subst I,i,$(subst J,j,$(subst K,k,$(subst L,l,$(subst M,m,$(subst N,n,$(subst O,o,$(subst P,p,$(subst Q,q,$(subst R,r,$(subst S,s,$(subst T,t,$(subst U,u,$(subst V,v,$(subst W,w,$(subst X,x,$(subst Y,y,$(subst Z,z,$(1)))))))))))))))))))))))))))
ci_value := $(call lowercase,$(strip $(CI)))
ci_on := $(if $(filter 1,$(words $(ci_value))),$(if $(filter false 0,$(ci_value)),,1),$(if $(ci_value),1,))

# CI builds once from a clean clone: incremental caches would only cost disk (~1.6 GB).
ifneq ($(ci_on),)
export CARGO_INCREMENTAL ?= 0
endif

# Prints whether CI is on (`on` or `off`), for tests/ci_rule.rs.
print-ci:
	@echo $(if $(ci_on),on,off)

test: deps control-plane lint unit

deps:
	bash tests/deps.sh
	bash tests/control-plane/hadolint.sh

control-plane:
	bash tests/control-plane/build.sh --with-controller-manager
	bash tests/control-plane/helm.sh

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
