# switchboard's front door. `make run` and `make test` set up everything they
# need (the wasm targets included) on a machine with only rustup's toolchain.

CARGO      ?= cargo
GUEST_CORE := target/wasm32-unknown-unknown/guest/switchboard_component.wasm
COMPONENT  := target/switchboard.wasm
CLI        := target/release/switchboard

.PHONY: all setup build component run test lint bench clean

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

## build: the component (target/switchboard.wasm) and the host, in release.
build: component
	$(CARGO) build --release --locked -p switchboard-host

component: setup
	$(CARGO) build --locked -p switchboard-component --target wasm32-unknown-unknown --profile guest
	$(CARGO) run --release --locked -q -p switchboard-componentize -- $(GUEST_CORE) $(COMPONENT)

## run: every sample request in fixtures/ through the component, printing the events.
run: build
	$(CARGO) run --release --locked -q -p switchboard-host --example samples

## test: every test: core units, fixtures through core, component and CLI.
test: build
	$(CARGO) test --release --locked --workspace --exclude switchboard-component

## lint: clippy with warnings as errors (host and guest targets), rustfmt.
lint: setup
	$(CARGO) clippy --release --locked --workspace --exclude switchboard-component --all-targets -- -D warnings
	$(CARGO) clippy --locked -p switchboard-component --target wasm32-unknown-unknown --profile guest -- -D warnings
	$(CARGO) fmt --all --check

## bench: median time per event, natively and through the component.
bench: build
	$(CARGO) bench --locked -p switchboard-host --bench throughput

clean:
	$(CARGO) clean
