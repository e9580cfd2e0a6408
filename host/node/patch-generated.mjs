// Run after `jco transpile` (package.json's `transpile` script; the
// Makefile's `edge` target passes host/edge/generated/edge.js, which needs the
// same change: Deno reads `process.env` through a permission-checked call).
//
// jco 1.35's generated glue decides whether to log by reading
// `process.env.JCO_DEBUG` on every one of its debug-log calls, several per
// component call; in Node a `process.env` read goes into the C++ runtime.
// Measured on the two-core machine (`detect` on an empty request): 5.0 µs
// per call as generated, 2.2 µs with the variable read once, when the
// module loads. This makes that one change; if a later jco writes the
// function differently, it says so and changes nothing.

import { readFileSync, writeFileSync } from 'node:fs';

const path = process.argv[2] ?? new URL('./generated/switchboard.js', import.meta.url);
const generated = readFileSync(path, 'utf8');
const perCall = `  const _debugLog = (...args) => {
    if (!globalThis?.process?.env?.JCO_DEBUG) { return; }
    console.debug(...args);
  };`;
const once = `  // patch-generated.mjs: JCO_DEBUG read once, not on every call.
  const JCO_DEBUG = globalThis?.process?.env?.JCO_DEBUG;
  const _debugLog = (...args) => {
    if (!JCO_DEBUG) { return; }
    console.debug(...args);
  };`;
if (generated.includes(perCall)) {
  writeFileSync(path, generated.replace(perCall, once));
} else if (!generated.includes(once)) {
  console.warn('patch-generated.mjs: jco wrote _debugLog differently; left as generated');
}
