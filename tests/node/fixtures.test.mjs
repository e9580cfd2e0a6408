// Every fixture in fixtures/ through the component from Node (jco transpile),
// checked against the fixture's expectation exactly as the Rust suites do.
//
// It imports the npm package by its name: `make test-node` packs host/node
// (`npm pack`), installs the tarball into a temporary project
// (target/node-project), copies this file there and runs it, with
// SWITCHBOARD_FIXTURES naming the fixtures folder.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { ConfigError, Processor, SwitchboardError } from 'switchboard-webhooks';

const FIXTURES = process.env.SWITCHBOARD_FIXTURES ?? fileURLToPath(new URL('../../fixtures/', import.meta.url));

function files(dir) {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

const cases = files(FIXTURES).sort().map((path) => {
  const name = relative(FIXTURES, path);
  assert.ok(name.endsWith('.json'), `fixtures/${name} is not a case`);
  const fixture = JSON.parse(readFileSync(path, 'utf8'));
  const request = fixture.request;
  const body = 'body' in request ? Buffer.from(request.body, 'utf8') : Buffer.from(request.body_base64, 'base64');
  return { name, fixture, body };
});

const processor = await Processor.load();

test('there are fixtures', () => assert.ok(cases.length > 0));

test('the package is the installed tarball, with its types', async () => {
  const entry = fileURLToPath(import.meta.resolve('switchboard-webhooks'));
  assert.ok(entry.includes(join('node_modules', 'switchboard-webhooks')), entry);
  const root = join(entry, '..');
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  assert.equal(manifest.types, 'switchboard.d.ts');
  assert.ok(statSync(join(root, 'switchboard.d.ts')).size > 0);
  assert.ok(statSync(join(root, 'generated', 'switchboard.core.wasm')).size > 100_000);
});

for (const { name, fixture, body } of cases) {
  test(name, () => {
    const { expect, config } = fixture;
    let outcome;
    let shown;
    try {
      const event = processor.process(fixture.request.headers, body, config, fixture.now, fixture.vendor);
      outcome = { event };
      shown = JSON.stringify(event);
    } catch (error) {
      if (!(error instanceof SwitchboardError)) throw error;
      outcome = { error };
      shown = error.message;
    }
    for (const vendor of Object.values(config.vendors ?? {})) {
      for (const secret of vendor.secrets ?? []) {
        assert.ok(!secret.trim() || !shown.includes(secret), 'a secret leaked into the output');
      }
    }
    if ('event' in expect) {
      assert.ok(outcome.event, `expected an event, got ${shown}`);
      assert.deepStrictEqual(outcome.event, expect.event);
    } else {
      assert.ok(outcome.error, `expected ${expect.error}, got the event ${shown}`);
      assert.deepEqual([outcome.error.kind, outcome.error.reason], [expect.error, expect.reason]);
      assert.ok(outcome.error.message.includes(expect.message), `${outcome.error.message} lacks ${expect.message}`);
    }
  });
}

// jco's own glue for the component, beside the package's direct call of
// `process-body` (switchboard.mjs lowers and lifts it itself): the two must
// give the same document, or the same refusal, for every case.
test('the direct process-body call agrees with jco on every fixture', async () => {
  const generated = join(fileURLToPath(import.meta.resolve('switchboard-webhooks')), '..', 'generated');
  const { instantiate } = await import(pathToFileURL(join(generated, 'switchboard.js')));
  const module = new WebAssembly.Module(readFileSync(join(generated, 'switchboard.core.wasm')));
  const jco = instantiate(() => module, {}).processor;
  let refused = 0;
  for (const { name, fixture, body } of cases) {
    const { headers } = fixture.request;
    const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
    const configText = JSON.stringify(fixture.config);
    let theirs;
    try {
      theirs = { ok: jco.processBody(pairs, body, fixture.vendor || undefined, configText, BigInt(fixture.now)) };
    } catch (error) {
      if (!(error && 'payload' in error)) throw error;
      theirs = { err: error.payload };
    }
    let ours;
    try {
      ours = { ok: processor.processToJson(headers, body, fixture.config, fixture.now, fixture.vendor) };
    } catch (error) {
      if (!(error instanceof SwitchboardError)) throw error;
      ours = { err: { class: error.kind, reason: error.reason, message: error.message } };
      refused += 1;
    }
    assert.deepStrictEqual(ours, theirs, name);
  }
  assert.ok(refused > 0 && refused < cases.length, 'both accepted and refused cases were compared');
});

test('a configuration error is a ConfigError, at load and per call', () => {
  const bad = { vendors: { varda: { secrets: ['hunter2', ''] } } };
  assert.throws(() => processor.checkConfig(bad), (error) => {
    assert.ok(error instanceof ConfigError);
    assert.deepEqual([error.kind, error.reason], ['invalid-config', 'invalid-config']);
    assert.equal(error.errorClass, 'invalid-config', 'the name before 0.3.0 still works');
    assert.ok(error.message.includes('secret 2 of varda'), error.message);
    assert.equal(error.detail, error.message, 'the name before 0.3.0 still works');
    assert.ok(!error.message.includes('hunter2'), error.message);
    return true;
  });
  processor.checkConfig({ vendors: { varda: { secrets: ['s'] } } });
  assert.throws(
    () => processor.process([], new Uint8Array(2), { vendors: { vrada: {} } }, 0),
    ConfigError,
  );
});

test('wrong argument types are TypeErrors', () => {
  const config = { vendors: {} };
  assert.throws(() => processor.process([], '{}', config, 0), TypeError);
  assert.throws(() => processor.process([], new Uint8Array(2), config, 1.5), TypeError);
  assert.throws(() => processor.process([], new Uint8Array(2), 42, 0), TypeError);
});
