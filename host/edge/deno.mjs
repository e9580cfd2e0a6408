// switchboard under `deno serve` (`make deno`):
//
//   deno serve --host 127.0.0.1 --port 8790 --allow-env --allow-net \
//     --allow-read=host/edge/generated host/edge/deno.mjs
//
// The configuration is the process environment (`Deno.env`), read as the
// gateway reads its own; the time, the clock. `--allow-net` is for
// SWITCHBOARD_FORWARD_URL (and serving); nothing else is read.

import { createHandler } from './handler.mjs';

const core = await WebAssembly.compile(
  await Deno.readFile(new URL('./generated/edge.core.wasm', import.meta.url)),
);
const handle = createHandler(() => core);
const env = Object.entries(Deno.env.toObject());

export default {
  fetch(request) {
    return handle(request, { env, now: Math.floor(Date.now() / 1000) });
  },
};
