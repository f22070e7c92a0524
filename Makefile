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
test: ## Run every test (unit, golden, corpus, CLI end-to-end, infra lint)
	$(CARGO) test --workspace --locked
	$(MAKE) lint-infra

.PHONY: lint
lint: ## rustfmt --check and clippy -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

.PHONY: lint-infra
lint-infra: ## terraform fmt -check and checkov (installed into .venv)
	bash scripts/lint-infra.sh

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
