// TEST ONLY: the Deno entry with its env and clock from each request
// (fixture-inputs.mjs). Run by tests/edge.rs.

import { fixtureServer } from './fixture-inputs.mjs';

const core = await WebAssembly.compile(
  await Deno.readFile(new URL('../../host/edge/generated/edge.core.wasm', import.meta.url)),
);

export default fixtureServer(() => core);
