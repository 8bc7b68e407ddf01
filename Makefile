# Lyceum — the two commands that matter: `make run` and `make test`.
SHELL := /bin/bash
CARGO ?= cargo

.PHONY: run test lint fmt bench deploy-check deps build clean

## run: build and start the whole platform (embedded: SQLite + in-process bus) with demo data
run:
	$(CARGO) build --release -p lyceum
	./target/release/lyceum serve --demo

## test: start what the tests need (PostgreSQL, NATS), then run every test
test: deps
	$(CARGO) build --workspace --all-targets
	$(CARGO) nextest run --workspace --no-fail-fast
	$(MAKE) deploy-check

## deps: install and start PostgreSQL and NATS JetStream when absent
deps:
	bash deploy/scripts/dev-services.sh

## lint: formatting and clippy, warnings are errors
lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

## bench: load generators on loopback; results in docs/benchmarks.md
bench:
	bash deploy/scripts/bench.sh

## deploy-check: render every kustomize overlay and validate it offline
deploy-check:
	bash deploy/scripts/deploy-check.sh

build:
	$(CARGO) build --workspace

clean:
	$(CARGO) clean
