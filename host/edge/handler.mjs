// The shell shared by the Cloudflare Worker (worker.mjs) and the Deno entry
// point (deno.mjs): it turns a fetch `Request` into the edge component's
// arguments and its answers into a `Response`, and does the I/O they ask
// for (read the body, POST an event downstream). Every route, status,
// header, error body and limit comes from the component
// (wit/edge/edge.wit, crates/edge: switchboard-http's contract, the one the
// receiver and the gateway use); nothing here decides an answer.
//
//   const handle = createHandler(() => coreModule);
//   const response = await handle(request, { env: [[name, value], ...], now });

import { instantiate } from './generated/edge.js';

/**
 * A handler over the edge component whose core module `getCoreModule`
 * returns (a compiled `WebAssembly.Module`: Workers import it as a module,
 * Deno compiles it at start). A call that traps is answered from a fresh
 * instance with the contract's `500 internal`.
 */
export function createHandler(getCoreModule) {
  let shell = instantiate(getCoreModule, {}).shell;

  /**
   * `{ value: f(shell) }`, or, when the call traps (or throws), `{ failed }`:
   * the contract's `500` from a fresh instance.
   */
  function call(f) {
    try {
      return { value: f(shell) };
    } catch (error) {
      shell = instantiate(getCoreModule, {}).shell;
      return { failed: shell.failed(`the edge component failed: ${error?.message ?? error}`) };
    }
  }

  /**
   * Answers `request`. `env`: the configuration, as [name, value] pairs of
   * strings (the component reads the `SWITCHBOARD_*` ones); `now`: the
   * current time, whole unix seconds.
   */
  return async function handle(request, { env, now }) {
    const url = new URL(request.url);
    const target = url.pathname + url.search;
    const headers = [...request.headers];
    const { method } = request;
    const admitted = call((s) => s.head(method, target, headers, env));
    if (admitted.failed) return respond(admitted.failed);
    if (admitted.value.tag === 'respond') return respond(admitted.value.val);
    const read = await readBody(request, admitted.value.val);
    if (read.unread !== undefined) {
      const unread = call((s) => s.unread(read.unread === 'timeout', env));
      return respond(unread.failed ?? unread.value);
    }
    const handled = call((s) => s.handle(method, target, headers, read.body, env, BigInt(now)));
    if (handled.failed) return respond(handled.failed);
    if (handled.value.tag === 'respond') return respond(handled.value.val);
    const forward = handled.value.val;
    const downstream = await post(forward);
    const forwarded = call((s) => s.forwarded(downstream, forward.id, forward.eventType));
    return respond(forwarded.failed ?? forwarded.value);
  };
}

/**
 * The body, read until it ends or passes `limit` by one byte (the rest is
 * never read), or `{ unread: 'timeout' | 'broken' }`.
 */
async function readBody(request, { limit, timeoutMs }) {
  if (request.body === null) return { body: new Uint8Array(0) };
  const reader = request.body.getReader();
  const chunks = [];
  let size = 0;
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(() => resolve({ timedOut: true }), timeoutMs);
  });
  try {
    while (size <= limit) {
      const next = await Promise.race([reader.read(), timeout]);
      if (next.timedOut) return { unread: 'timeout' };
      if (next.done) break;
      chunks.push(next.value);
      size += next.value.byteLength;
    }
  } catch {
    return { unread: 'broken' };
  } finally {
    clearTimeout(timer);
    reader.cancel().catch(() => {});
  }
  const body = new Uint8Array(size);
  let at = 0;
  for (const chunk of chunks) {
    body.set(chunk, at);
    at += chunk.byteLength;
  }
  return { body };
}

/** POSTs the event; the downstream's status, or why there is none. */
async function post({ url, contentType, timeoutMs, document }) {
  try {
    const answer = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': contentType },
      body: document,
      signal: AbortSignal.timeout(timeoutMs),
    });
    await answer.body?.cancel();
    return { tag: 'ok', val: answer.status };
  } catch (error) {
    return { tag: 'err', val: String(error?.message ?? error) };
  }
}

/** The component's response as a fetch `Response`. */
function respond({ status, headers, body }) {
  return new Response(body, { status, headers });
}

/** A Worker's `env` (or any object of bindings) as the component's pairs. */
export function envPairs(bindings) {
  return Object.entries(bindings).filter(([, value]) => typeof value === 'string');
}
