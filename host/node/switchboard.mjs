// Embed the switchboard processor component from Node.
//
// The component is transpiled by jco (`npm run transpile`, which `make`
// runs) into ./generated. It imports nothing, so no WASI shim is needed.
// Deliveries go through the component's `process-body`: the headers as
// pairs, the raw body bytes as their own argument (one copy into the
// guest's memory), the configuration as its JSON text (the component reads
// and validates it once per instance while the text stays the same), and
// the event back as its JSON document.
//
//   import { Processor, SwitchboardError } from './switchboard.mjs';
//   const processor = await Processor.load();
//   const configured = processor.configure(config);   // validated here
//   const event = configured.process(headers, body, now);

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { instantiate } from './generated/switchboard.js';

const GENERATED = new URL('./generated/', import.meta.url);

/**
 * A refused delivery. The same three names as the Python binding's
 * `SwitchboardError`: `kind`, the class (`unauthenticated`, `malformed`,
 * `unknown-vendor`, `too-large`, `internal`, or `invalid-config`, thrown as
 * ConfigError); `reason`, a stable code (`stale`, `no-match`, ... the WIT
 * `error` record lists them); `message`, for people. The stack's first line
 * reads `kind (reason): message`.
 */
export class SwitchboardError extends Error {
  constructor(kind, reason, message) {
    super(`${kind} (${reason}): ${message}`);
    this.name = 'SwitchboardError';
    this.kind = kind;
    this.reason = reason;
    this.message = message;
  }

  /** `kind`, by its name before 0.3.0. */
  get errorClass() {
    return this.kind;
  }

  /** `message`, by its name before 0.3.0. */
  get detail() {
    return this.message;
  }
}

/**
 * A configuration that cannot be used (an empty or undecodable secret, an
 * unknown vendor, scheme or key). The message names the key, never a value.
 */
export class ConfigError extends SwitchboardError {
  constructor(message) {
    super('invalid-config', 'invalid-config', message);
    this.name = 'ConfigError';
  }
}

/** The WIT `error` record as jco gives it: `{class, reason, message}`. */
function refusal({ class: kind, reason, message }) {
  return kind === 'invalid-config'
    ? new ConfigError(message)
    : new SwitchboardError(kind, reason, message);
}

function configJson(config) {
  if (typeof config === 'string') return config;
  if (config !== null && typeof config === 'object') return JSON.stringify(config);
  throw new TypeError(`config must be an object or JSON text, not ${typeof config}`);
}

function headerPairs(headers) {
  const pairs = Array.isArray(headers) ? headers : Object.entries(headers);
  for (const pair of pairs) {
    if (!Array.isArray(pair) || typeof pair[0] !== 'string' || typeof pair[1] !== 'string') {
      throw new TypeError('headers must be [[name, value], ...] or {name: value}, all strings');
    }
  }
  return pairs;
}

function checkBody(body) {
  if (!(body instanceof Uint8Array)) {
    throw new TypeError('body must be a Uint8Array or Buffer of the raw bytes as received');
  }
}

function checkNow(now) {
  if (!Number.isSafeInteger(now)) {
    throw new TypeError(`now must be whole unix seconds, not ${now}`);
  }
}

/** One compiled component and one live instance, replaced after a trap. */
export class Processor {
  /** Compiles the transpiled component's core modules once. */
  static async load() {
    const modules = new Map();
    for (const path of ['switchboard.core.wasm']) {
      const bytes = await readFile(fileURLToPath(new URL(path, GENERATED)));
      modules.set(path, await WebAssembly.compile(bytes));
    }
    return new Processor((path) => modules.get(path));
  }

  #getCoreModule;
  #exports;

  constructor(getCoreModule) {
    this.#getCoreModule = getCoreModule;
    this.#instantiate();
  }

  #instantiate() {
    this.#exports = instantiate(this.#getCoreModule, {}).processor;
  }

  /**
   * Reads and validates `config` (an object or its JSON text) once, and
   * returns what processes deliveries with it. Throws ConfigError.
   */
  configure(config) {
    const text = configJson(config);
    this.checkConfig(text);
    return new Configured(this, text);
  }

  /**
   * Verifies and normalizes one delivery. `headers`: [[name, value], ...] or
   * an object; `body`: a Uint8Array (or Buffer) of the raw bytes; `config`:
   * the JSON configuration (object or text); `now`: unix seconds. Returns the
   * CloudEvent object or throws SwitchboardError. With one configuration for
   * many deliveries, `configure` it once.
   */
  process(headers, body, config, now, vendor = '') {
    return JSON.parse(this.processToJson(headers, body, config, now, vendor));
  }

  /** `process`, returning the CloudEvent as its JSON text. */
  processToJson(headers, body, config, now, vendor = '') {
    checkBody(body);
    checkNow(now);
    return this.#processBody(headerPairs(headers), body, vendor, configJson(config), now);
  }

  /**
   * Validates a configuration without processing anything: call it when the
   * configuration is loaded. Throws ConfigError.
   */
  checkConfig(config) {
    const text = configJson(config);
    try {
      this.#exports.checkConfigJson(text);
    } catch (error) {
      // jco throws a `result` error as a ComponentError with its payload.
      if (error && 'payload' in error) throw new ConfigError(error.payload);
      this.#instantiate();
      throw new SwitchboardError('internal', 'trap', `the component failed: ${error.message}`);
    }
  }

  /** The component's `process-json` as it is: JSON text in and out. */
  processJson(requestJson, vendor, configJson, now) {
    try {
      return this.#exports.processJson(requestJson, vendor, configJson, BigInt(now));
    } catch (trap) {
      // A trapped instance must not be entered again.
      this.#instantiate();
      throw new SwitchboardError('internal', 'trap', `the component failed: ${trap.message}`);
    }
  }

  /** `process-body`; the headers, body and `now` are already checked. */
  #processBody(pairs, body, vendor, configText, now) {
    try {
      return this.#exports.processBody(pairs, body, vendor || undefined, configText, BigInt(now));
    } catch (error) {
      // A refusal is the `result`'s error, the `error` record.
      if (error && 'payload' in error) throw refusal(error.payload);
      // A trapped instance must not be entered again.
      this.#instantiate();
      throw new SwitchboardError('internal', 'trap', `the component failed: ${error.message}`);
    }
  }

  /** For `Configured`: one delivery with an already checked configuration. */
  _processChecked(headers, body, configText, now, vendor) {
    checkBody(body);
    checkNow(now);
    return this.#processBody(headerPairs(headers), body, vendor, configText, now);
  }
}

/** A configuration read and validated once (see `Processor.configure`). */
export class Configured {
  #processor;
  #config;

  constructor(processor, configText) {
    this.#processor = processor;
    this.#config = configText;
  }

  /** Verifies and normalizes one delivery; returns the CloudEvent object. */
  process(headers, body, now, vendor = '') {
    return JSON.parse(this.processToJson(headers, body, now, vendor));
  }

  /** `process`, returning the CloudEvent as its JSON text. */
  processToJson(headers, body, now, vendor = '') {
    return this.#processor._processChecked(headers, body, this.#config, now, vendor);
  }
}
