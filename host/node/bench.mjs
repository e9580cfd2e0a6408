// `make bench`: switchboard from Node on the benchmark mix, as the
// hand-written handler (../shared/bench/node_handler.mjs) is measured: every
// delivery of MIX in turn for SECONDS, after 200 passes to warm up, through
// one configuration of every vendor of the mix (`configure`, then `process`
// per delivery, the CloudEvent back as an object).
//
// usage: node bench.mjs MIX.jsonl [SECONDS] [--json]
//   --json  take the event back as its JSON text (`processToJson`) instead

import { readFileSync } from 'node:fs';
import { Processor } from './switchboard.mjs';

const args = process.argv.slice(2);
const asJson = args.includes('--json');
const [mix, seconds = '3'] = args.filter((a) => a !== '--json');
if (!mix) throw new Error('usage: node bench.mjs MIX.jsonl [SECONDS] [--json]');

const deliveries = readFileSync(mix, 'utf8').trim().split('\n').map((line) => {
  const d = JSON.parse(line);
  return { vendor: d.vendor, headers: Object.entries(d.headers), body: Buffer.from(d.body, 'utf8'), now: d.now, d };
});
// One configuration, as a receiver of the whole mix runs: each vendor with
// its scheme (its own is the default) and secret.
const vendors = {};
for (const { d } of deliveries) {
  vendors[d.vendor] = { secrets: [d.secret], scheme: d.scheme === d.vendor ? 'vendor-default' : d.scheme };
}
const processor = await Processor.load();
const configured = processor.configure({ vendors });
const run = asJson
  ? (x) => configured.processToJson(x.headers, x.body, x.now, x.vendor)
  : (x) => configured.process(x.headers, x.body, x.now, x.vendor);

for (let i = 0; i < 200; i++) for (const x of deliveries) run(x);
let n = 0;
const t0 = performance.now();
while (performance.now() - t0 < Number(seconds) * 1000) {
  for (const x of deliveries) run(x);
  n += deliveries.length;
}
const dt = (performance.now() - t0) / 1000;
console.log(`switchboard from node (${asJson ? 'processToJson' : 'process'}): ${(dt / n * 1e6).toFixed(2)} us/event over ${n} events`);
