// switchboard as a Cloudflare Worker (an ES-module Worker; `make workerd`
// runs it locally with workerd.capnp). Workers do not compile WebAssembly
// from bytes at run time: the edge component's core module is imported as a
// module (a `wasm` module in workerd.capnp, `[[rules]] type = "CompiledWasm"`
// under wrangler). The configuration is the Worker's environment and secret
// bindings, read as the gateway reads its environment; the time, the clock.

import core from './generated/edge.core.wasm';
import { createHandler, envPairs } from './handler.mjs';

const handle = createHandler(() => core);

/** The bindings as pairs, once per `env` object (one per isolate). */
const pairs = new WeakMap();

export default {
  fetch(request, env) {
    let configuration = pairs.get(env);
    if (configuration === undefined) {
      configuration = envPairs(env);
      pairs.set(env, configuration);
    }
    return handle(request, { env: configuration, now: Math.floor(Date.now() / 1000) });
  },
};
