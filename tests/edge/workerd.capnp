# TEST ONLY: the Worker of host/edge/workerd.capnp with the fixture entry
# (tests/edge/fixture-inputs.mjs), whose env and clock come from each
# request. tests/edge.rs starts it with `--socket-addr http=127.0.0.1:PORT`.
# Module names follow the files' paths, so that the relative imports the
# Deno entry uses resolve here too.

using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [ (name = "fixtures", worker = .fixtures) ],
  sockets = [ (name = "http", address = "127.0.0.1:0", http = (), service = "fixtures") ],
);

const fixtures :Workerd.Worker = (
  compatibilityDate = "2026-11-01",
  modules = [
    (name = "tests/edge/worker.mjs", esModule = embed "worker.mjs"),
    (name = "tests/edge/fixture-inputs.mjs", esModule = embed "fixture-inputs.mjs"),
    (name = "host/edge/handler.mjs", esModule = embed "../../host/edge/handler.mjs"),
    (name = "host/edge/generated/edge.js", esModule = embed "../../host/edge/generated/edge.js"),
    (name = "host/edge/generated/edge.core.wasm", wasm = embed "../../host/edge/generated/edge.core.wasm"),
  ],
);
