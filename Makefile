# hokusai-verify: two commands.
#   make verify   run the suite on the stand-in (default) and print one line per check
#   make test     run every test (what CI runs)

SHELL := /bin/bash
# The AWS SDK must never probe the instance-metadata address.
export AWS_EC2_METADATA_DISABLED := true
# MLflow 3 fetches a telemetry configuration from the internet: never from the tests.
export MLFLOW_DISABLE_TELEMETRY := true
export DO_NOT_TRACK := true
export RUST_BACKTRACE ?= 0
CARGO ?= cargo

.PHONY: verify test live-smoke bench bench-verify build fmt lint clean-run

verify: ## run every check on the configured target (stand-in by default) and print a summary
	scripts/with-redis $(CARGO) run --quiet -- verify

# Results of the area tests go to a folder of their own (target/hokusai-verify/test-run,
# scripts/test-all): `make test` never writes into the user's run folder
# (target/hokusai-verify/run), which `make verify` and `report` use.

test: ## every test: unit, doc, one binary per area, the fidelity tests against a real MLflow and moto, the live smoke; ends with one total line
	CARGO="$(CARGO)" scripts/test-all

live-smoke: ## the suite in live mode over real sockets against `hokusai-verify standin`, healthy and with a fault
	scripts/with-redis scripts/live-smoke

bench: ## the load engine against oha and wrk on loopback (release build; prints the table of docs/performance.md)
	scripts/bench

bench-verify: ## wall time of `verify` on the stand-in under a real deployment's latencies (table of docs/performance.md)
	scripts/with-redis scripts/bench-verify

build:
	$(CARGO) build --all-targets

fmt:
	$(CARGO) fmt --all

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

clean-run: ## forget the results of earlier runs
	rm -rf target/hokusai-verify
