// Embed the switchboard processor component from Node.
//
// The component is transpiled by jco (`npm run transpile`, which `make`
// runs) into ./generated. It imports nothing, so no WASI shim is needed.
// Deliveries go through the component's `process-body`: the headers as
// pairs, the raw body bytes as their own argument (one copy into the
// guest's memory), the configuration as its JSON text (the component reads
// and validates it once per instance while the text stays the same), and
// the event back as its JSON document. That one call is made here, on the
// component's core module, rather than through jco's glue (see
// `DirectProcessBody`); everything else goes through jco.
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

const PROCESS_BODY = 'switchboard:webhooks/processor@0.4.0#process-body';
/** The WIT `error-class` enum, in its order. */
const ERROR_CLASSES = ['unauthenticated', 'malformed', 'unknown-vendor', 'too-large', 'internal', 'invalid-config'];
const UTF8_ENCODER = new TextEncoder();
const UTF8_DECODER = new TextDecoder();

/**
 * `process-body` on its own instance of the component's core module,
 * lowered and lifted here by the component model's canonical ABI for this
 * one signature, as jco's glue does it. jco 1.35 also sets up an async task
 * for every call, synchronous ones too (a task object, closures, lists to
 * keep): measured on the two-core machine, 2 of the 19 µs a mix delivery
 * took. tests/node compares the two on every fixture.
 *
 * The signature, `process-body(headers: list<tuple<string, string>>,
 * body: list<u8>, vendor: option<string>, config-json: string, now: s64)
 * -> result<string, error>`, flattens to ten parameters (each list and
 * string a pointer and a length, the option a tag first) and one result:
 * the address of the result's tag (byte 0) and payload (from byte 4: the
 * event's text, or the error's class byte, reason and message).
 */
class DirectProcessBody {
  #memory;
  #realloc;
  #processBody;
  #postReturn;
  /** The headers' addresses and lengths, written into the guest's list at once. */
  #slots = new Uint32Array(64);
  /** The length of what `#string` or `#copy` wrote last. */
  #length = 0;

  constructor(module) {
    const exports = new WebAssembly.Instance(module, {}).exports;
    this.#memory = exports.memory;
    this.#realloc = exports.cabi_realloc;
    this.#processBody = exports[PROCESS_BODY];
    this.#postReturn = exports[`cabi_post_${PROCESS_BODY}`];
  }

  /**
   * The event's text, or the refusal as `{class, reason, message}`; throws
   * on a trap.
   */
  call(pairs, body, vendor, configBytes, now) {
    const count = pairs.length;
    if (this.#slots.length < count * 4) this.#slots = new Uint32Array(count * 4);
    const slots = this.#slots;
    for (let i = 0; i < count; i++) {
      const pair = pairs[i];
      slots[4 * i] = this.#string(pair[0]);
      slots[4 * i + 1] = this.#length;
      slots[4 * i + 2] = this.#string(pair[1]);
      slots[4 * i + 3] = this.#length;
    }
    const list = this.#allocate(4, count * 16);
    const bodyAt = this.#copy(body);
    const vendorAt = vendor ? this.#string(vendor) : 0;
    const vendorLength = vendor ? this.#length : 0;
    const configAt = this.#copy(configBytes);
    // Every allocation is made: the memory's buffer is the one it keeps.
    new Uint32Array(this.#memory.buffer, list, count * 4).set(slots.subarray(0, count * 4));
    const result = this.#processBody(
      list, count, bodyAt, body.length,
      vendor ? 1 : 0, vendorAt, vendorLength, configAt, configBytes.length, BigInt(now),
    );
    const view = new DataView(this.#memory.buffer);
    const text = (at) => UTF8_DECODER.decode(
      new Uint8Array(this.#memory.buffer, view.getUint32(at, true), view.getUint32(at + 4, true)),
    );
    let outcome;
    switch (view.getUint8(result)) {
      case 0:
        outcome = text(result + 4);
        break;
      case 1: {
        const kind = ERROR_CLASSES[view.getUint8(result + 4)];
        if (kind === undefined) throw new TypeError('invalid error-class discriminant');
        outcome = { class: kind, reason: text(result + 8), message: text(result + 16) };
        break;
      }
      default:
        throw new TypeError('invalid result discriminant');
    }
    this.#postReturn(result);
    return outcome;
  }

  /**
   * A new allocation in the guest: its address (`align` when empty, as the
   * guest's own `cabi_realloc` gives).
   */
  #allocate(align, size) {
    return size === 0 ? align : this.#realloc(0, 0, align, size);
  }

  /** `bytes` copied into a new allocation: its address. */
  #copy(bytes) {
    const at = this.#allocate(1, bytes.length);
    new Uint8Array(this.#memory.buffer, at, bytes.length).set(bytes);
    return at;
  }

  /**
   * `text` encoded as UTF-8 into a new allocation of exactly its length:
   * its address (and the length in `#length`).
   */
  #string(text) {
    const length = Buffer.byteLength(text, 'utf8');
    const at = this.#allocate(1, length);
    UTF8_ENCODER.encodeInto(text, new Uint8Array(this.#memory.buffer, at, length));
    this.#length = length;
    return at;
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
  #direct;

  constructor(getCoreModule) {
    this.#getCoreModule = getCoreModule;
    this.#instantiate();
  }

  #instantiate() {
    this.#exports = instantiate(this.#getCoreModule, {}).processor;
    this.#direct = new DirectProcessBody(this.#getCoreModule('switchboard.core.wasm'));
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
    const configBytes = UTF8_ENCODER.encode(configJson(config));
    return this.#processBody(headerPairs(headers), body, vendor, configBytes, now);
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

  /**
   * `process-body`; the headers, body and `now` are already checked, the
   * configuration's JSON text is UTF-8 bytes.
   */
  #processBody(pairs, body, vendor, configBytes, now) {
    let outcome;
    try {
      outcome = this.#direct.call(pairs, body, vendor, configBytes, now);
    } catch (error) {
      // A trapped instance must not be entered again.
      this.#instantiate();
      throw new SwitchboardError('internal', 'trap', `the component failed: ${error.message}`);
    }
    // A refusal is the `result`'s error, the `error` record.
    if (typeof outcome !== 'string') throw refusal(outcome);
    return outcome;
  }

  /** For `Configured`: one delivery with an already checked configuration. */
  _processChecked(headers, body, configBytes, now, vendor) {
    checkBody(body);
    checkNow(now);
    return this.#processBody(headerPairs(headers), body, vendor, configBytes, now);
  }
}

/** A configuration read and validated once (see `Processor.configure`). */
export class Configured {
  #processor;
  #config;

  constructor(processor, configText) {
    this.#processor = processor;
    this.#config = UTF8_ENCODER.encode(configText);
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
