# switchboard's front door. `make run` and `make test` set up everything they
# need (the wasm targets included) on a machine with only rustup's toolchain.

CARGO      ?= cargo
GUEST_CORE := target/wasm32-unknown-unknown/guest/switchboard_component.wasm
COMPONENT  := target/switchboard.wasm
GATEWAY_CORE := target/wasm32-unknown-unknown/guest/switchboard_gateway.wasm
GATEWAY    := target/gateway.wasm
CLI        := target/release/switchboard

VENV       := .venv
PYTHON     := $(VENV)/bin/python
NODE_DIR   := host/node

FUZZ_SECONDS       ?= 120
FUZZ_SMOKE_SECONDS ?= 6


.PHONY: all setup postgres build component run demo samples load cluster-load attack test test-rust test-python test-node python node lint bench fuzz fuzz-smoke clean

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

## postgres: PostgreSQL's server (Debian's postgresql package), which the
## PostgreSQL store's tests start themselves: installed when missing if
## this runs as root, else a clear error (never a silent skip).
postgres:
	@if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql; \
	  else \
	    echo "error: the PostgreSQL store's tests need PostgreSQL's server (initdb, pg_ctl): install it with 'sudo apt-get install -y postgresql', or run make as root" >&2; \
	    exit 1; \
	  fi; \
	fi

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
## target/gateway.wasm, the wasi:http gateway) and the host with its tests,
## in release.
build: component
	$(CARGO) test --release --locked $(TESTED) --no-run

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

## cluster-load: three receivers sharing one throwaway PostgreSQL under a
## bounded loopback load (and one alone, for comparison), one replica
## SIGKILLed and the database restarted mid-run; checks that no
## acknowledged event is lost or doubled. About 20 seconds.
cluster-load: build postgres
	$(CARGO) run --release --locked -q -p switchboard-host --example cluster_load

## attack: a bounded loopback attack (signature-list floods, forged max-size
## bodies, slow bodies, random paths) while valid deliveries are measured.
## ATTACK_ARGS="--journal-dir /dev/shm" keeps the journal's fsync out of it.
ATTACK_ARGS ?=
attack: build
	$(CARGO) run --release --locked -q -p switchboard-host --example attack -- $(ATTACK_ARGS)

## test: every test: the Rust suites (core units, fixtures through the core,
## the component and the CLI), then the fixtures from Python and from Node,
## then a short run of every fuzz target.
test: test-rust test-python test-node fuzz-smoke

test-rust: build postgres
	$(CARGO) test --release --locked $(TESTED)

# Python: wasmtime-py and pytest, pinned, in a project-local virtualenv.
$(VENV)/installed: host/python/requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r host/python/requirements.txt
	touch $@

python: $(VENV)/installed

test-python: build python
	$(PYTHON) -m pytest -q tests/python

# Node: jco, pinned in host/node/package-lock.json, transpiles the component.
$(NODE_DIR)/node_modules/installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	# npm ci rejects the lock over optional platform packages (an npm 11 bug);
	# npm install honours the committed lock all the same.
	cd $(NODE_DIR) && npm install --no-audit --no-fund --loglevel=error
	touch $@

node: component $(NODE_DIR)/node_modules/installed
	cd $(NODE_DIR) && npm run -s transpile

test-node: node
	node --test tests/node/

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
fuzz-smoke:
	CARGO=$(CARGO) fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

clean:
	$(CARGO) clean
