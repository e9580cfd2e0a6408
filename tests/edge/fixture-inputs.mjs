// TEST ONLY. Never deploy this file or the entries that import it
// (tests/edge/worker.mjs, tests/edge/deno.mjs, tests/edge/workerd.capnp).
//
// The fixtures each carry their own configuration and a fixed `now`; the
// production entries (host/edge/worker.mjs, host/edge/deno.mjs) take theirs
// from the runtime's environment and its clock, and read nothing else. So
// that one workerd and one Deno can run every fixture of the contract
// subset, these test entries take both from two request headers the test
// harness (tests/edge.rs) sets, strip them, and hand the request to the same
// shared handler (host/edge/handler.mjs) as the production entries, which
// never look at these headers (tests/edge.rs checks that they are ignored).

import { createHandler } from '../../host/edge/handler.mjs';

/** The environment, as a JSON object of strings. */
export const ENV_HEADER = 'x-switchboard-test-env';
/** The time, whole unix seconds. */
export const NOW_HEADER = 'x-switchboard-test-now';

/** A `{ fetch }` handler whose env and clock come from the request. */
export function fixtureServer(getCoreModule) {
  const handle = createHandler(getCoreModule);
  return {
    async fetch(request) {
      const env = Object.entries(JSON.parse(request.headers.get(ENV_HEADER) ?? '{}'));
      const now = Number(request.headers.get(NOW_HEADER));
      const headers = new Headers(request.headers);
      headers.delete(ENV_HEADER);
      headers.delete(NOW_HEADER);
      // Read here, whole, so that the runtime sees its request read (Deno
      // resets a connection whose request body was handed to another
      // Request and left unread). The production entries' early answers,
      // before any body is read, are tested through them (tests/edge.rs).
      const { method, url } = request;
      const body = method === 'GET' || method === 'HEAD' ? undefined : await request.arrayBuffer();
      return handle(new Request(url, { method, headers, body }), { env, now });
    },
  };
}
