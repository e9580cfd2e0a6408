// Types of switchboard.mjs: the switchboard processor component
// (switchboard:webhooks@0.3.0) embedded from Node.

/** Request headers: `[name, value]` pairs, or an object of them. */
export type Headers = ReadonlyArray<readonly [string, string]> | Readonly<Record<string, string>>;

/**
 * The JSON configuration (the document of the README's "Configuration"),
 * as an object or its text.
 */
export type Config = string | {
  vendors: Record<string, {
    secrets?: string[];
    scheme?: string | Record<string, unknown>;
  }>;
  tolerance_seconds?: number;
  body_limit?: number;
  include_raw?: boolean;
};

/** One normalized CloudEvents 1.0 event (structured JSON mode). */
export interface CloudEvent {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  subject?: string;
  time?: string;
  datacontenttype: string;
  vendor: string;
  vendorevent: string;
  verification: string;
  data: Record<string, unknown>;
  [extension: string]: unknown;
}

/** The class of a refusal. */
export type ErrorKind =
  | 'unauthenticated'
  | 'malformed'
  | 'unknown-vendor'
  | 'too-large'
  | 'internal'
  | 'invalid-config';

/** A refused delivery. */
export class SwitchboardError extends Error {
  constructor(kind: ErrorKind, reason: string, message: string);
  /** The class. */
  readonly kind: ErrorKind;
  /** A stable code (`stale`, `no-match`, ...; the WIT `error` record lists them). */
  readonly reason: string;
  /** For people; never a secret. */
  readonly message: string;
  /** `kind`, by its name before 0.3.0. */
  readonly errorClass: ErrorKind;
  /** `message`, by its name before 0.3.0. */
  readonly detail: string;
}

/** A configuration that cannot be used; the message names the key, never a value. */
export class ConfigError extends SwitchboardError {
  constructor(message: string);
  readonly kind: 'invalid-config';
}

/** One compiled component and one live instance, replaced after a trap. */
export class Processor {
  /** Compiles the packaged component's core module once. */
  static load(): Promise<Processor>;
  constructor(getCoreModule: (path: string) => WebAssembly.Module);
  /** Reads and validates `config` once. Throws ConfigError. */
  configure(config: Config): Configured;
  /** Verifies and normalizes one delivery (`now`: whole unix seconds). Throws SwitchboardError. */
  process(headers: Headers, body: Uint8Array, config: Config, now: number, vendor?: string): CloudEvent;
  /** `process`, returning the CloudEvent's JSON text. */
  processToJson(headers: Headers, body: Uint8Array, config: Config, now: number, vendor?: string): string;
  /** Validates a configuration without processing anything. Throws ConfigError. */
  checkConfig(config: Config): void;
  /** The component's `process-json` as it is: JSON text in and out. */
  processJson(requestJson: string, vendor: string, configJson: string, now: number): string;
}

/** A configuration read and validated once (see `Processor.configure`). */
export class Configured {
  /** Verifies and normalizes one delivery. Throws SwitchboardError. */
  process(headers: Headers, body: Uint8Array, now: number, vendor?: string): CloudEvent;
  /** `process`, returning the CloudEvent's JSON text. */
  processToJson(headers: Headers, body: Uint8Array, now: number, vendor?: string): string;
}
