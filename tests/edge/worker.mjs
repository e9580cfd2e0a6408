// TEST ONLY: the Worker with its env and clock from each request
// (fixture-inputs.mjs). Run by tests/edge.rs with tests/edge/workerd.capnp.

import core from '../../host/edge/generated/edge.core.wasm';
import { fixtureServer } from './fixture-inputs.mjs';

export default fixtureServer(() => core);
