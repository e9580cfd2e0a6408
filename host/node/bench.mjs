// `make bench`: time per call from Node for a signed 1 KB Varda webhook,
// through one reused instance (median of rounds).

import { createHmac } from 'node:crypto';
import { Processor } from './switchboard.mjs';

const SECRET = 'bench-secret';
const NOW = 1774463400;

function oneKbRequest() {
  const payload = {
    event: 'message.created', timestamp: '2026-03-25T18:31:00Z', data: {
      id: 789, conversation_id: 123, direction: 'inbound', sender_type: 'contact',
      sender_name: 'Jane Doe', content: '', channel_type: 'webchat',
      contact: { id: 456, name: 'Jane Doe', email: 'jane@example.com', phone: '+18005551234' },
    },
  };
  payload.data.content = 'x'.repeat(1024 - JSON.stringify(payload).length);
  const body = Buffer.from(JSON.stringify(payload));
  if (body.length !== 1024) throw new Error(`body is ${body.length} bytes`);
  const signature = createHmac('sha256', SECRET).update(`${NOW}.`).update(body).digest('hex');
  return [[['X-Varda-Signature', `t=${NOW},v1=${signature}`]], body];
}

const processor = await Processor.load();
const [headers, body] = oneKbRequest();
const config = { vendors: { varda: { secrets: [SECRET] } } };
if (processor.process(headers, body, config, NOW).type !== 'message.received') throw new Error('not accepted');
const calls = 1000;
const rounds = 25;
const perCall = [];
for (let r = 0; r < rounds; r++) {
  const start = performance.now();
  for (let i = 0; i < calls; i++) processor.process(headers, body, config, NOW);
  perCall.push((performance.now() - start) / calls);
}
perCall.sort((a, b) => a - b);
const median = perCall[Math.floor(rounds / 2)];
console.log(`node (jco, process-json), 1 KB webhook: ${(median * 1000).toFixed(1)} µs per call (median of ${rounds} rounds of ${calls})`);
