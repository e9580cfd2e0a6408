# switchboard's front door. `make run` and `make test` set up everything they
# need (the wasm targets included) on a machine with only rustup's toolchain.

CARGO      ?= cargo
GUEST_CORE := target/wasm32-unknown-unknown/guest/switchboard_component.wasm
COMPONENT  := target/switchboard.wasm
GATEWAY_CORE := target/wasm32-unknown-unknown/guest/switchboard_gateway.wasm
GATEWAY    := target/gateway.wasm
CLI        := target/release/switchboard
# The processor transpiled by jco for the console's page, embedded in the
# binary (host/build.rs): made before the host crate is compiled.
CONSOLE_WASM := target/console-wasm/switchboard.js

VENV       := .venv
PYTHON     := $(VENV)/bin/python
NODE_DIR   := host/node

FUZZ_SECONDS       ?= 120
FUZZ_SMOKE_SECONDS ?= 6


.PHONY: all setup build component run demo samples load attack test test-rust test-python test-node test-browser suite-rust suite-python suite-node suite-browser python node chromium screenshot lint bench fuzz fuzz-smoke clean

all: build

# The guest is built for wasm32-unknown-unknown (zero imports); the issue's
# wasm32-wasip2 target is added too, for measuring the alternative.
setup:
	@for target in wasm32-unknown-unknown wasm32-wasip2; do \
	  rustup target list --installed | grep -qx $$target || rustup target add $$target; \
	done
	@for component in clippy rustfmt; do \
	  rustup component list --installed | grep -q "^$$component" || rustup component add $$component; \
	done

# Every host-side crate, tests included, in one build. The tests'
# dev-dependencies (the gateway suite's wasi:http host) add features to
# wasmtime, hyper and tokio: a build of the host alone would compile
# wasmtime and everything above it a second time, with other features, and
# `make run` and `make test` would each undo the other's `switchboard`
# binary. So there is one build, and every suite (Python's included) and
# `make run` use the `switchboard` binary it leaves in target/release. The
# componentize tool (no tests of its own) is built once, unoptimised: it
# runs for well under a second and compiles in a third of the time.
TESTED := --workspace --exclude switchboard-component --exclude switchboard-gateway --exclude switchboard-componentize

## build: the components (target/switchboard.wasm, the processor, and
## target/gateway.wasm, the wasi:http gateway), the processor transpiled
## for the console's page (target/console-wasm/) and the host with its
## tests, in release.
build: component $(CONSOLE_WASM)
	$(CARGO) test --release --locked $(TESTED) --no-run

# jco 1.35 (host/node's lock), async instantiation: the page compiles the
# core module itself (WebAssembly.compileStreaming). Only when the
# component changed.
$(CONSOLE_WASM): $(COMPONENT) $(NODE_DIR)/node_modules/installed
	rm -rf target/console-wasm
	cd $(NODE_DIR) && npm run -s transpile-console

component: setup
	$(CARGO) build --locked -p switchboard-component -p switchboard-gateway --target wasm32-unknown-unknown --profile guest
	$(CARGO) run --locked -q -p switchboard-componentize -- $(GUEST_CORE) $(COMPONENT)
	$(CARGO) run --locked -q -p switchboard-componentize -- $(GATEWAY_CORE) $(GATEWAY)

## run: the receiver on 127.0.0.1:8787 with the demo configuration (demo
## secrets, public; see host/demo/switchboard.toml), journal events.ndjson.
run: build
	$(CLI) serve --config host/demo/switchboard.toml --out events.ndjson

## demo: send every sample request in fixtures/ to the running receiver.
demo:
	$(CARGO) run --release --locked -q -p switchboard-host --example demo

## samples: every sample request in fixtures/ through the component, printing the events.
samples: build
	$(CARGO) run --release --locked -q -p switchboard-host --example samples

## load: a bounded loopback load run with a SIGKILL crash check.
load: build
	$(CARGO) run --release --locked -q -p switchboard-host --example load

## attack: a bounded loopback attack (signature-list floods, forged max-size
## bodies, slow bodies, random paths) while valid deliveries are measured.
## ATTACK_ARGS="--journal-dir /dev/shm" keeps the journal's fsync out of it.
ATTACK_ARGS ?=
attack: build
	$(CARGO) run --release --locked -q -p switchboard-host --example attack -- $(ATTACK_ARGS)

## test: every test: the Rust suites (core units, fixtures through the core,
## the component and the CLI), the fixtures from Python and from Node, the
## console in a headless Chromium, then a short run of every fuzz target.
# The four suites run at once (each one's output kept together); then the
# fuzz smoke.
test: build python node chromium
	@$(MAKE) --no-print-directory -j4 --output-sync=target suite-rust suite-python suite-node suite-browser
	@$(MAKE) --no-print-directory fuzz-smoke

# The Rust suites under cargo-nextest when it is installed (each test its
# own process, TEST_THREADS at once: most tests wait on a receiver, a
# timeout or a subprocess, not on the cores), else under cargo test with as
# many threads per suite; then the doc tests, which nextest does not run.
TEST_THREADS ?= 6
test-rust: build
	@$(MAKE) --no-print-directory suite-rust
suite-rust:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
	  echo "$(CARGO) nextest run --release --locked $(TESTED) --test-threads $(TEST_THREADS)"; \
	  $(CARGO) nextest run --release --locked $(TESTED) --test-threads $(TEST_THREADS) --no-fail-fast; \
	else \
	  echo "cargo-nextest is not installed: cargo test"; \
	  $(CARGO) test --release --locked $(TESTED) --no-fail-fast -- --test-threads=$(TEST_THREADS); \
	fi
	$(CARGO) test --release --locked --doc $(TESTED)

# Python: wasmtime-py, pytest and (for the browser test) Selenium, pinned,
# in a project-local virtualenv.
$(VENV)/installed: host/python/requirements.txt tests/browser/requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r host/python/requirements.txt -r tests/browser/requirements.txt
	touch $@

python: $(VENV)/installed

test-python: build python
	@$(MAKE) --no-print-directory suite-python
suite-python:
	$(PYTHON) -m pytest -q tests/python

# Node: jco, pinned in host/node/package-lock.json, transpiles the component.
$(NODE_DIR)/node_modules/installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	# npm ci rejects the lock over optional platform packages (an npm 11 bug);
	# npm install honours the committed lock all the same.
	cd $(NODE_DIR) && npm install --no-audit --no-fund --loglevel=error
	touch $@

node: component $(NODE_DIR)/generated/switchboard.js

$(NODE_DIR)/generated/switchboard.js: $(COMPONENT) $(NODE_DIR)/node_modules/installed $(NODE_DIR)/patch-generated.mjs
	cd $(NODE_DIR) && npm run -s transpile

test-node: node
	@$(MAKE) --no-print-directory suite-node
suite-node:
	node --test tests/node/

## test-browser: the console in a headless Chromium (Debian's chromium and
## chromium-driver, installed when missing and running as root), driven
## by Selenium: deliveries arrive live with their reasons, one opens, a
## refused one is replayed after a restart with the right secret, and the
## try pane gives the event the CLI gives. A few seconds.
test-browser: build python chromium
	@$(MAKE) --no-print-directory suite-browser
suite-browser:
	$(PYTHON) -m pytest -q tests/browser

## screenshot: the browser test, saving its screenshot of the console as
## docs/console.png (the README shows it).
screenshot: build python chromium
	CONSOLE_SCREENSHOT=docs/console.png $(PYTHON) -m pytest -q tests/browser

chromium:
	@if ! command -v chromium >/dev/null || ! command -v chromedriver >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing Debian's chromium and chromium-driver"; \
	    DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null \
	      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium chromium-driver >/dev/null; }; \
	  else \
	    echo "the browser test needs Debian's chromium and chromium-driver: run 'sudo apt-get install chromium chromium-driver' (make installs them itself only as root)" >&2; \
	    exit 1; \
	  fi; \
	fi

## lint: clippy with warnings as errors (host and guest targets), rustfmt.
lint: setup
	$(CARGO) clippy --release --locked --workspace --exclude switchboard-component --exclude switchboard-gateway --all-targets -- -D warnings
	$(CARGO) clippy --locked -p switchboard-component -p switchboard-gateway --target wasm32-unknown-unknown --profile guest -- -D warnings
	$(CARGO) fmt --all --check
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml --check

## bench: switchboard beside the floor and the hand-written Node and Python
## handlers on ../shared/bench/mix.jsonl, natively, through the component and
## from Node and Python, in one run (host/benches/throughput.rs), with the
## ratios of issue 13 marked met or not met. About two minutes.
bench: build python node
	$(CARGO) build --release --locked --quiet --manifest-path ../shared/bench/floor/Cargo.toml --target-dir target/floor
	$(CARGO) bench --locked -p switchboard-host --bench throughput

## fuzz: every cargo-fuzz target in fuzz/ for FUZZ_SECONDS each (120),
## seeded from fixtures/, printing each one's executions. Installs
## cargo-fuzz if missing; builds in fuzz/target.
fuzz:
	CARGO=$(CARGO) fuzz/run.sh $(FUZZ_SECONDS)

## fuzz-smoke: the same for FUZZ_SMOKE_SECONDS each (6): part of `make test`.
## Not run again on target binaries that already passed it (a change to the
## core or to a target rebuilds them); `make fuzz` always runs.
fuzz-smoke:
	CARGO=$(CARGO) FUZZ_ONCE=1 fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

clean:
	$(CARGO) clean
