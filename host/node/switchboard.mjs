// Embed the switchboard processor component from Node.
//
// The component is transpiled by jco (`npm run transpile`, which `make`
// runs) into ./generated. It imports nothing, so no WASI shim is needed.
// Calls go through the component's strings-only `process-json`, so the
// configuration is read by the component itself exactly as every other host
// reads it; raw bytes stay exact (UTF-8 text when the body is valid UTF-8,
// base64 otherwise).
//
//   import { Processor, SwitchboardError } from './switchboard.mjs';
//   const processor = await Processor.load();
//   const event = processor.process(headers, body, config, now);

import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { instantiate } from './generated/switchboard.js';

const GENERATED = new URL('./generated/', import.meta.url);
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** A refused delivery; `errorClass` is one of the five classes. */
export class SwitchboardError extends Error {
  constructor(errorClass, message) {
    super(`${errorClass}: ${message}`);
    this.name = 'SwitchboardError';
    this.errorClass = errorClass;
    this.detail = message;
  }
}

/**
 * A configuration that cannot be used (an empty or undecodable secret, an
 * unknown vendor, scheme or key). The message names the key, never a value.
 */
export class ConfigError extends SwitchboardError {
  constructor(message) {
    super('invalid-config', message);
    this.name = 'ConfigError';
  }
}

function refusal(errorClass, message) {
  return errorClass === 'invalid-config'
    ? new ConfigError(message)
    : new SwitchboardError(errorClass, message);
}

function configJson(config) {
  if (typeof config === 'string') return config;
  if (config !== null && typeof config === 'object') return JSON.stringify(config);
  throw new TypeError(`config must be an object or JSON text, not ${typeof config}`);
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
   * Verifies and normalizes one delivery. `headers`: [[name, value], ...] or
   * an object; `body`: a Uint8Array (or Buffer) of the raw bytes; `config`:
   * the JSON configuration (object or text); `now`: unix seconds. Returns the
   * CloudEvent object or throws SwitchboardError.
   */
  process(headers, body, config, now, vendor = '') {
    if (!(body instanceof Uint8Array)) {
      throw new TypeError('body must be a Uint8Array or Buffer of the raw bytes as received');
    }
    if (!Number.isSafeInteger(now)) {
      throw new TypeError(`now must be whole unix seconds, not ${now}`);
    }
    const request = { headers: Array.isArray(headers) ? headers : Object.entries(headers) };
    try {
      request.body = utf8.decode(body);
    } catch {
      request.body_base64 = Buffer.from(body).toString('base64');
    }
    const answer = JSON.parse(
      this.processJson(JSON.stringify(request), vendor ?? '', configJson(config), now),
    );
    if (!('specversion' in answer)) {
      throw refusal(answer.error, answer.message);
    }
    return answer;
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
      throw new SwitchboardError('internal', `the component failed: ${error.message}`);
    }
  }

  /** The component's `process-json` as it is: JSON text in and out. */
  processJson(requestJson, vendor, configJson, now) {
    try {
      return this.#exports.processJson(requestJson, vendor, configJson, BigInt(now));
    } catch (trap) {
      // A trapped instance must not be entered again.
      this.#instantiate();
      throw new SwitchboardError('internal', `the component failed: ${trap.message}`);
    }
  }
}
