# switchboard's front door. `make run` and `make test` set up everything they
# need (the wasm targets included) on a machine with only rustup's toolchain.

CARGO      ?= cargo
# The guests' core modules as cargo builds them, then as wasm-opt leaves
# them (target/wasm-opt): those are encoded as the components.
GUEST_DIR  := target/wasm32-unknown-unknown/guest
OPT_DIR    := target/wasm-opt
GUEST_CORE := $(OPT_DIR)/switchboard_component.wasm
COMPONENT  := target/switchboard.wasm
GATEWAY_CORE := $(OPT_DIR)/switchboard_gateway.wasm
GATEWAY    := target/gateway.wasm
EDGE_CORE  := $(OPT_DIR)/switchboard_edge.wasm
EDGE       := target/edge.wasm
CLI        := target/release/switchboard
# cargo's messages from building the tests: where the suites' binaries are.
TEST_BINARIES := target/test-binaries.json
# The processor transpiled by jco for the console's page, embedded in the
# binary (host/build.rs): made before the host crate is compiled.
CONSOLE_WASM := target/console-wasm/switchboard.js

VENV       := .venv
PYTHON     := $(VENV)/bin/python
NODE_DIR   := host/node
EDGE_DIR   := host/edge
WORKERD    := $(EDGE_DIR)/node_modules/workerd/bin/workerd
DENO       := $(EDGE_DIR)/node_modules/deno/deno
JCO        := $(NODE_DIR)/node_modules/.bin/jco
# Binaryen's wasm-opt (npm's binaryen: Binaryen compiled to WebAssembly, run
# by Node), pinned in tools/package-lock.json and installed into
# tools/node_modules (nothing global).
TOOLS_DIR  := tools
WASM_OPT   := $(TOOLS_DIR)/node_modules/.bin/wasm-opt

FUZZ_SECONDS       ?= 120
FUZZ_SMOKE_SECONDS ?= 6


.PHONY: all setup postgres build component run demo samples load cluster-load attack test test-rust test-python test-node test-browser suite-rust suite-doc suite-python suite-node suite-browser python python-installed node node-installed wheel npm-pack edge workerd deno edge-load chromium screenshot lint bench fuzz fuzz-smoke clean

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
TESTED := --workspace --exclude switchboard-component --exclude switchboard-gateway --exclude switchboard-edge --exclude switchboard-componentize

## build: the components (target/switchboard.wasm, the processor, and
## target/gateway.wasm, the wasi:http gateway), the processor transpiled
## for the console's page (target/console-wasm/) and the host with its
## tests, in release.
build: component $(CONSOLE_WASM)
	$(CARGO) test --release --locked $(TESTED) --no-run --message-format=json-render-diagnostics > $(TEST_BINARIES).new
	@mv $(TEST_BINARIES).new $(TEST_BINARIES)
	@# Compile the processor into wasmtime's on-disk cache once, so that the
	@# receivers and CLI runs the suites start all at once find it there
	@# rather than each compiling it at the same moment (and `make run`
	@# starts at once). An unsigned delivery: exit 3, unauthenticated.
	@out=$$(echo '{}' | $(CLI) process --vendor varda --secret varda=compile-cache --data-binary @- 2>&1); \
	  status=$$?; [ $$status = 3 ] || { echo "warming the compile cache: exit $$status, not 3: $$out"; exit 1; }

# jco 1.35 (host/node's lock), async instantiation: the page compiles the
# core module itself (WebAssembly.compileStreaming). Only when the
# component changed.
$(CONSOLE_WASM): $(COMPONENT) $(NODE_DIR)/node_modules/installed
	rm -rf target/console-wasm
	cd $(NODE_DIR) && npm run -s transpile-console

component: setup $(TOOLS_DIR)/node_modules/installed
	$(CARGO) build --locked -p switchboard-component -p switchboard-gateway -p switchboard-edge --target wasm32-unknown-unknown --profile guest
	$(CARGO) build --locked -q -p switchboard-componentize
	@for c in $(COMPONENT) $(GATEWAY) $(EDGE); do [ -f $$c ] || rm -f $$c.made; done
	@$(MAKE) --no-print-directory $(COMPONENT).made $(GATEWAY).made $(EDGE).made

# Each component encoded again when its core module or the tool changed
# (cargo leaves both untouched when nothing did). The stamp, not the
# component, carries the time: componentize leaves an identical component
# untouched, so that what is made from it is not made again.
COMPONENTIZE := target/debug/switchboard-componentize
$(COMPONENT).made: $(GUEST_CORE) $(COMPONENTIZE)
	$(COMPONENTIZE) $< $(COMPONENT) && touch $@
$(GATEWAY).made: $(GATEWAY_CORE) $(COMPONENTIZE)
	$(COMPONENTIZE) $< $(GATEWAY) && touch $@
$(EDGE).made: $(EDGE_CORE) $(COMPONENTIZE)
	$(COMPONENTIZE) $< $(EDGE) && touch $@

# wasm-opt after LLVM (see [profile.guest] in Cargo.toml) takes about 28 KB
# off the processor's core module, and at -O3 the guest runs as fast as
# without it (-Oz saves about 2 KB more but ran a few per cent slower in
# wasmtime). The features are those rustc enables for wasm32-unknown-unknown
# (its default CPU) and .cargo/config.toml's SIMD: the stripped module does
# not list them, and wasm-opt would use no other. It runs again only when
# cargo wrote a new module, or this file changed.
WASM_OPT_FLAGS := -O3 --enable-simd --enable-bulk-memory --enable-bulk-memory-opt \
  --enable-call-indirect-overlong --enable-multivalue --enable-mutable-globals \
  --enable-nontrapping-float-to-int --enable-reference-types --enable-sign-ext

$(OPT_DIR)/%.wasm: $(GUEST_DIR)/%.wasm $(TOOLS_DIR)/node_modules/installed Makefile
	@mkdir -p $(OPT_DIR)
	$(WASM_OPT) $(WASM_OPT_FLAGS) $< -o $@

# npm ci: binaryen has no dependencies, and no optional platform packages
# (which host/node's install works around), so the lock is followed exactly.
$(TOOLS_DIR)/node_modules/installed: $(TOOLS_DIR)/package.json $(TOOLS_DIR)/package-lock.json
	cd $(TOOLS_DIR) && npm ci --no-audit --no-fund --loglevel=error
	touch $@

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

## load: the receiver under a timed loopback load (1 s warm-up, 10 s
## measured, 32 keep-alive connections, its journal on disk and fsynced
## before each 200): requests/s, p50/p99/p99.9, events per fsync, CPU per
## request; then a SIGKILL crash check. LOAD_ARGS="--seconds 30
## --connections 64" changes the run ("--journal-dir /dev/shm" takes the
## disk out of it, to compare CPU alone).
LOAD_ARGS ?=
load: build
	$(CARGO) run --release --locked -q -p switchboard-host --example load -- $(LOAD_ARGS)

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
## the component and the CLI; the gateway, workerd and Deno), the fixtures
## from the installed Python wheel and the installed npm tarball, the
## console in a headless Chromium, then a short run of every fuzz target.
# Everything the suites need is made first; then the suites run at once
# (each one's output kept together), then the fuzz smoke.
test: build edge postgres python-installed node-installed chromium
	@$(MAKE) --no-print-directory -j5 --output-sync=target suite-rust suite-doc suite-python suite-node suite-browser
	@$(MAKE) --no-print-directory fuzz-smoke

# The Rust suites: every test binary `make build` built (its cargo messages
# in TEST_BINARIES) at once, each in one process with
# TEST_THREADS test threads (tests/run_binaries.py): most tests wait on a
# receiver, a timeout, a runtime or a database, not on the cores, and one
# process per binary shares its compiled component and runtimes among its
# tests. The receiver's suite (tests/serve.rs) runs a second time with its
# receivers on PostgreSQL (RECEIVER_TEST_STORE=postgres). Then the doc
# tests: compiling them is work with no timing in it, so it runs at a lower
# priority, on what the timed suites leave of the cores. The edge suites
# (tests/edge.rs, and the shells' sameness check in tests/gateway.rs) start
# workerd and Deno: `make edge` first.
TEST_THREADS ?= 8
test-rust: build edge postgres
	@$(MAKE) --no-print-directory suite-rust suite-doc
suite-rust:
	CARGO=$(CARGO) TEST_THREADS=$(TEST_THREADS) TEST_BINARIES=$(TEST_BINARIES) python3 tests/run_binaries.py $(TESTED)
suite-doc:
	+nice -n 10 $(CARGO) test --release --locked --doc $(TESTED)

# Python: wasmtime-py, pytest and (for the browser test) Selenium, pinned,
# in a project-local virtualenv.
$(VENV)/installed: host/python/requirements.txt tests/browser/requirements.txt
	python3 -m venv $(VENV)
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r host/python/requirements.txt -r tests/browser/requirements.txt
	touch $@

python: $(VENV)/installed

# The Python package (host/python/pyproject.toml): its wheel carries the
# component. Built offline with the project venv's setuptools, into
# target/python/dist; the suite then runs against that wheel installed into
# a fresh virtual environment (target/python/venv), from target/python, with
# its dependencies from a local wheelhouse filled once from PyPI.
PY_BUILD   := target/python
WHEELHOUSE := target/wheelhouse

$(WHEELHOUSE)/downloaded: host/python/requirements.txt $(VENV)/installed
	$(PYTHON) -m pip download --quiet --disable-pip-version-check -r host/python/requirements.txt -d $(WHEELHOUSE)
	touch $@

## wheel: the installable Python package, target/python/dist/switchboard_webhooks-*.whl.
## Built again when the component or the package's sources change; the
## fresh virtual environment is made again for each new wheel.
PY_SOURCES := host/python/pyproject.toml $(wildcard host/python/switchboard/*.py)
wheel: component $(PY_BUILD)/dist/built

$(PY_BUILD)/dist/built: $(COMPONENT) $(PY_SOURCES) $(VENV)/installed
	rm -rf $(PY_BUILD)/src $(PY_BUILD)/dist
	mkdir -p $(PY_BUILD)/src
	cp -r host/python/pyproject.toml host/python/switchboard $(PY_BUILD)/src/
	cp $(COMPONENT) $(PY_BUILD)/src/switchboard/switchboard.wasm
	$(PYTHON) -m pip wheel --quiet --disable-pip-version-check --no-deps --no-build-isolation --no-index $(PY_BUILD)/src -w $(PY_BUILD)/dist
	touch $@

$(PY_BUILD)/venv/installed: $(PY_BUILD)/dist/built $(WHEELHOUSE)/downloaded
	rm -rf $(PY_BUILD)/venv
	python3 -m venv $(PY_BUILD)/venv
	$(PY_BUILD)/venv/bin/pip install --quiet --disable-pip-version-check --no-index --find-links $(WHEELHOUSE) $(PY_BUILD)/dist/*.whl -r host/python/requirements.txt
	touch $@

python-installed: wheel $(PY_BUILD)/venv/installed

test-python: build python-installed
	@$(MAKE) --no-print-directory suite-python
suite-python:
	cd $(PY_BUILD) && venv/bin/python -m pytest -q -p no:cacheprovider $(CURDIR)/tests/python

# Node: jco, pinned in host/node/package-lock.json, transpiles the component.
$(NODE_DIR)/node_modules/installed: $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	# npm ci rejects the lock over optional platform packages (an npm 11 bug);
	# npm install honours the committed lock all the same.
	cd $(NODE_DIR) && npm install --no-audit --no-fund --loglevel=error
	touch $@

# Transpiled again only when the component changed (componentize leaves an
# identical component untouched).
node: component $(NODE_DIR)/generated/switchboard.js

$(NODE_DIR)/generated/switchboard.js: $(COMPONENT) $(NODE_DIR)/node_modules/installed $(NODE_DIR)/patch-generated.mjs
	cd $(NODE_DIR) && npm run -s transpile

## npm-pack: the installable npm package (host/node: switchboard.mjs, its
## types and the transpiled component), target/npm/switchboard-webhooks-*.tgz.
npm-pack: node target/npm/packed

target/npm/packed: $(NODE_DIR)/generated/switchboard.js $(wildcard $(NODE_DIR)/switchboard.*) $(NODE_DIR)/package.json
	rm -rf target/npm && mkdir -p target/npm
	cd $(NODE_DIR) && npm pack --silent --pack-destination ../../target/npm >/dev/null
	touch $@

# The Node suite runs against the tarball installed into a temporary
# project (no network: the package has no dependencies), from there; the
# project is made again for each new tarball.
NODE_PROJECT := target/node-project
$(NODE_PROJECT)/installed: target/npm/packed
	rm -rf $(NODE_PROJECT) && mkdir -p $(NODE_PROJECT)
	echo '{"name": "switchboard-node-test", "private": true, "type": "module"}' > $(NODE_PROJECT)/package.json
	cd $(NODE_PROJECT) && npm install --silent --no-audit --no-fund --offline ../npm/switchboard-webhooks-*.tgz
	touch $@

node-installed: npm-pack $(NODE_PROJECT)/installed

test-node: node-installed
	@$(MAKE) --no-print-directory suite-node
suite-node:
	cp tests/node/*.test.mjs $(NODE_PROJECT)/
	cd $(NODE_PROJECT) && SWITCHBOARD_FIXTURES=$(CURDIR)/fixtures node --test

# The edge: workerd and Deno, pinned in host/edge/package-lock.json and
# installed into host/edge/node_modules (nothing global); the edge
# component transpiled by jco (host/node's) into host/edge/generated.
$(EDGE_DIR)/node_modules/installed: $(EDGE_DIR)/package.json $(EDGE_DIR)/package-lock.json
	cd $(EDGE_DIR) && npm install --no-audit --no-fund --loglevel=error
	touch $@

## edge: target/edge.wasm transpiled for the Worker and Deno, and both
## runtimes installed.
edge: component $(EDGE_DIR)/generated/edge.js

$(EDGE_DIR)/generated/edge.js: $(EDGE) $(NODE_DIR)/node_modules/installed $(EDGE_DIR)/node_modules/installed $(NODE_DIR)/patch-generated.mjs
	$(JCO) transpile $(EDGE) --out-dir $(EDGE_DIR)/generated --name edge --instantiation sync --quiet
	node $(NODE_DIR)/patch-generated.mjs $(EDGE_DIR)/generated/edge.js

# The demo configuration (host/demo/switchboard.toml) in the environment's
# form, as the gateway and the edge shells read it. Public demo secrets.
DEMO_ENV := SWITCHBOARD_SECRET_VARDA=demo-varda-secret \
  SWITCHBOARD_SECRET_OPENPHONE=ZGVtby1vcGVucGhvbmUtc2lnbmluZy1rZXk=,whsec_ZGVtby1xdW8tc3RhbmRhcmQtd2ViaG9va3Mta2V5 \
  SWITCHBOARD_SECRET_ATOMS=demo-atoms-secret \
  SWITCHBOARD_SECRET_OPENCX=whsec_ZGVtby1vcGVuY3gtc3RhbmRhcmQtd2ViaG9va3Mta2V5 \
  SWITCHBOARD_SCHEME_OPENCX=standard-webhooks

## edge-load: a bounded loopback load on workerd and Deno (one signed Varda
## delivery, 16 keep-alive connections, 10 s each): requests/s, p50, p99.
edge-load: build edge
	$(CARGO) run --release --locked -q -p switchboard-host --example edge_load

## workerd: the Cloudflare Worker under workerd on 127.0.0.1:8789 with the
## demo secrets (host/edge/workerd.capnp).
workerd: edge
	$(DEMO_ENV) $(WORKERD) serve $(EDGE_DIR)/workerd.capnp

## deno: the Deno entry under `deno serve` on 127.0.0.1:8790 with the demo
## secrets.
deno: edge
	$(DEMO_ENV) $(DENO) serve --host 127.0.0.1 --port 8790 --allow-env --allow-net --allow-read=$(EDGE_DIR)/generated $(EDGE_DIR)/deno.mjs

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
	$(CARGO) clippy --release --locked --workspace --exclude switchboard-component --exclude switchboard-gateway --exclude switchboard-edge --all-targets -- -D warnings
	$(CARGO) clippy --locked -p switchboard-component -p switchboard-gateway -p switchboard-edge --target wasm32-unknown-unknown --profile guest -- -D warnings
	$(CARGO) fmt --all --check
	$(CARGO) fmt --manifest-path fuzz/Cargo.toml --check

## bench: switchboard beside the floor (natively and compiled to
## WebAssembly) and the hand-written Node and Python handlers on
## ../shared/bench/mix.jsonl, natively, through the component and from Node
## and Python, in one run (host/benches/throughput.rs), with the ratios of
## issue 13 marked met or not met. About a minute once built.
bench: build python node
	$(CARGO) build --release --locked --quiet --manifest-path ../shared/bench/floor/Cargo.toml --target-dir target/floor
	$(CARGO) build --locked --quiet -p switchboard-wasm-floor --target wasm32-unknown-unknown --profile guest
	@$(MAKE) --no-print-directory $(OPT_DIR)/switchboard_wasm_floor.wasm
	$(CARGO) bench --locked -p switchboard-host --bench throughput

## fuzz: every cargo-fuzz target in fuzz/ for FUZZ_SECONDS each (120),
## seeded from fixtures/, printing each one's executions. Installs
## cargo-fuzz if missing; builds in fuzz/target.
fuzz:
	CARGO=$(CARGO) fuzz/run.sh $(FUZZ_SECONDS)

## fuzz-smoke: the same for FUZZ_SMOKE_SECONDS each (6): part of `make test`.
## Not run again on target binaries that already passed it on the same
## fixtures (a change to the core or to a target rebuilds them); `make fuzz`
## always runs.
fuzz-smoke:
	CARGO=$(CARGO) FUZZ_ONCE=1 fuzz/run.sh $(FUZZ_SMOKE_SECONDS)

clean:
	$(CARGO) clean
