# switchboard as a Cloudflare Worker, run locally by workerd (`make workerd`):
#
#   host/edge/node_modules/.bin/workerd serve host/edge/workerd.capnp
#
# The Worker (worker.mjs) takes its configuration from its bindings, which
# this file fills from workerd's own environment: the same SWITCHBOARD_*
# variables, in the same form, as the gateway reads (README, "Running at
# the edge"). A variable that is not set is no binding at all. On
# Cloudflare, the same names are `vars` and secrets (`wrangler secret put
# SWITCHBOARD_SECRET_VARDA`). Listens on 127.0.0.1:8789
# (`--socket-addr http=HOST:PORT` moves it).

using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [
    (name = "switchboard", worker = .switchboard),
    # fetch() from the Worker: the internet, and private and loopback
    # addresses too (a downstream on this machine or network).
    (name = "internet", network = (allow = ["public", "private", "local"])),
  ],
  sockets = [ (name = "http", address = "127.0.0.1:8789", http = (), service = "switchboard") ],
);

const switchboard :Workerd.Worker = (
  compatibilityDate = "2026-11-01",
  globalOutbound = "internet",
  modules = [
    (name = "worker.mjs", esModule = embed "worker.mjs"),
    (name = "handler.mjs", esModule = embed "handler.mjs"),
    (name = "generated/edge.js", esModule = embed "generated/edge.js"),
    (name = "generated/edge.core.wasm", wasm = embed "generated/edge.core.wasm"),
  ],
  bindings = [
    (name = "SWITCHBOARD_SECRET_VARDA", fromEnvironment = "SWITCHBOARD_SECRET_VARDA"),
    (name = "SWITCHBOARD_SECRET_OPENPHONE", fromEnvironment = "SWITCHBOARD_SECRET_OPENPHONE"),
    (name = "SWITCHBOARD_SECRET_ATOMS", fromEnvironment = "SWITCHBOARD_SECRET_ATOMS"),
    (name = "SWITCHBOARD_SECRET_OPENCX", fromEnvironment = "SWITCHBOARD_SECRET_OPENCX"),
    (name = "SWITCHBOARD_SCHEME_VARDA", fromEnvironment = "SWITCHBOARD_SCHEME_VARDA"),
    (name = "SWITCHBOARD_SCHEME_OPENPHONE", fromEnvironment = "SWITCHBOARD_SCHEME_OPENPHONE"),
    (name = "SWITCHBOARD_SCHEME_ATOMS", fromEnvironment = "SWITCHBOARD_SCHEME_ATOMS"),
    (name = "SWITCHBOARD_SCHEME_OPENCX", fromEnvironment = "SWITCHBOARD_SCHEME_OPENCX"),
    (name = "SWITCHBOARD_VENDORS", fromEnvironment = "SWITCHBOARD_VENDORS"),
    (name = "SWITCHBOARD_TOLERANCE_SECONDS", fromEnvironment = "SWITCHBOARD_TOLERANCE_SECONDS"),
    (name = "SWITCHBOARD_BODY_LIMIT", fromEnvironment = "SWITCHBOARD_BODY_LIMIT"),
    (name = "SWITCHBOARD_INCLUDE_RAW", fromEnvironment = "SWITCHBOARD_INCLUDE_RAW"),
    (name = "SWITCHBOARD_FORWARD_URL", fromEnvironment = "SWITCHBOARD_FORWARD_URL"),
    (name = "SWITCHBOARD_READ_TIMEOUT_SECONDS", fromEnvironment = "SWITCHBOARD_READ_TIMEOUT_SECONDS"),
    (name = "SWITCHBOARD_FORWARD_TIMEOUT_SECONDS", fromEnvironment = "SWITCHBOARD_FORWARD_TIMEOUT_SECONDS"),
  ],
);
