// The console's deliveries: a stream of server-sent events read through
// fetch (so that it can carry the console token, which EventSource
// cannot), the list, the counters, the latency chart, one delivery opened,
// and its replay. Every value is written with textContent: nothing the
// receiver was sent is ever read as markup.

const API = '/console/api';
const CHART_BARS = 60;
const RETRY_MS = [250, 500, 1000, 2000, 5000];

const $ = (id) => document.getElementById(id);
const state = {
  deliveries: new Map(), // seq -> summary
  counters: new Map(), // "vendor\noutcome" -> count
  selected: null,
  token: null,
};

// The token: from the page's fragment (`/console#token=...`, never sent to
// the receiver), else what was typed, kept for this tab only.
function loadToken() {
  const fragment = new URLSearchParams(location.hash.slice(1));
  const given = fragment.get('token');
  if (given) {
    sessionStorage.setItem('switchboard-console-token', given);
    history.replaceState(null, '', location.pathname);
  }
  state.token = sessionStorage.getItem('switchboard-console-token');
}

function headers() {
  return state.token ? { Authorization: `Bearer ${state.token}` } : {};
}

function setStatus(which, text) {
  const status = $('status');
  status.dataset.state = which;
  status.textContent = text;
}

class Refused extends Error {
  constructor(status, body) {
    super(body && body.message ? `${status} ${body.error} (${body.reason}): ${body.message}` : `HTTP ${status}`);
    this.status = status;
  }
}

async function api(path, options = {}) {
  const response = await fetch(`${API}${path}`, { ...options, headers: headers() });
  if (!response.ok) {
    const body = await response.json().catch(() => null);
    if (response.status === 401) askToken();
    throw new Refused(response.status, body);
  }
  return response;
}

function askToken() {
  setStatus('token', 'this console needs its token');
  $('token-form').hidden = false;
}

// The stream: `event: snapshot` first, then `event: delivery` each; when it
// ends (the receiver restarted, or dropped a client that fell behind) it is
// opened again and starts from a new snapshot.
async function follow() {
  let attempt = 0;
  for (;;) {
    try {
      const response = await api('/stream');
      setStatus('live', 'live');
      attempt = 0;
      await readEvents(response.body, onEvent);
    } catch (error) {
      if (error instanceof Refused && error.status === 401) return;
      if (error instanceof Refused && error.status === 403) {
        setStatus('token', error.message);
        return;
      }
    }
    setStatus('reconnecting', 'reconnecting…');
    await new Promise((resolve) => setTimeout(resolve, RETRY_MS[Math.min(attempt++, RETRY_MS.length - 1)]));
  }
}

async function readEvents(body, handle) {
  const reader = body.pipeThrough(new TextDecoderStream()).getReader();
  let buffered = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buffered += value;
    let end;
    while ((end = buffered.indexOf('\n\n')) >= 0) {
      const block = buffered.slice(0, end);
      buffered = buffered.slice(end + 2);
      let name = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) name = line.slice(7);
        else if (line.startsWith('data: ')) data.push(line.slice(6));
      }
      if (data.length) handle(name, JSON.parse(data.join('\n')));
    }
  }
}

function onEvent(name, data) {
  if (name === 'snapshot') {
    state.deliveries.clear();
    $('deliveries').tBodies[0].replaceChildren();
    state.counters = new Map(data.counters.map((c) => [`${c.vendor}\n${c.outcome}`, c.count]));
    $('caps').textContent = `the newest ${data.caps.deliveries} (at most ${Math.round(data.caps.bytes / 1048576)} MiB) are kept`;
    for (const delivery of data.deliveries) addDelivery(delivery);
  } else if (name === 'delivery') {
    const key = `${data.vendor}\n${data.outcome}`;
    state.counters.set(key, (state.counters.get(key) || 0) + 1);
    addDelivery(data);
  }
  drawCounters();
  drawLatency();
}

function cell(row, text, className) {
  const td = row.insertCell();
  td.textContent = text ?? '';
  if (className) td.className = className;
  return td;
}

function latency(micros) {
  return micros >= 10000 ? `${(micros / 1000).toFixed(0)} ms` : `${(micros / 1000).toFixed(2)} ms`;
}

function addDelivery(d) {
  state.deliveries.set(d.seq, d);
  const row = document.createElement('tr');
  row.dataset.seq = d.seq;
  row.dataset.outcome = d.outcome;
  cell(row, new Date(d.time).toLocaleTimeString(), 'mono');
  cell(row, d.vendor);
  cell(row, d.type);
  cell(row, d.replayed ? `${d.outcome} → ${d.replayed}` : d.outcome, `outcome outcome-${d.outcome}`);
  cell(row, d.reason, 'reason');
  cell(row, d.delivery, 'mono');
  cell(row, d.earlier ? 'earlier' : latency(d.micros), 'num');
  const actions = row.insertCell();
  if (d.replayable) {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'replay';
    button.textContent = 'replay';
    button.addEventListener('click', (event) => {
      event.stopPropagation();
      replay(d.seq);
    });
    actions.append(button);
  }
  row.addEventListener('click', () => open(d.seq));
  const body = $('deliveries').tBodies[0];
  body.prepend(row);
  while (body.rows.length > 1000) body.lastElementChild.remove();
  $('empty').hidden = true;
}

function drawCounters() {
  const body = $('counters').tBodies[0];
  body.replaceChildren();
  for (const [key, count] of [...state.counters].sort()) {
    const [vendor, outcome] = key.split('\n');
    const row = body.insertRow();
    cell(row, vendor);
    cell(row, outcome, `outcome-${outcome}`);
    cell(row, count, 'num');
  }
}

// Bars of the newest deliveries' latencies, the tallest the full height.
function drawLatency() {
  const svg = $('latency');
  const recent = [...state.deliveries.values()].filter((d) => !d.earlier).slice(-CHART_BARS);
  const max = Math.max(1, ...recent.map((d) => d.micros));
  const width = 300 / CHART_BARS;
  svg.replaceChildren(
    ...recent.map((d, i) => {
      const bar = document.createElementNS('http://www.w3.org/2000/svg', 'rect');
      const height = Math.max(1, (d.micros / max) * 78);
      bar.setAttribute('x', (i * width).toFixed(2));
      bar.setAttribute('y', (80 - height).toFixed(2));
      bar.setAttribute('width', (width * 0.8).toFixed(2));
      bar.setAttribute('height', height.toFixed(2));
      if (d.outcome !== 'ok' && d.outcome !== 'duplicate') bar.setAttribute('class', 'refused');
      const title = document.createElementNS('http://www.w3.org/2000/svg', 'title');
      title.textContent = `#${d.seq} ${d.vendor} ${d.outcome}: ${latency(d.micros)}`;
      bar.append(title);
      return bar;
    }),
  );
  $('latency-note').textContent = recent.length ? `the last ${recent.length} deliveries, up to ${latency(max)}` : 'no delivery yet';
}

async function open(seq) {
  state.selected = seq;
  for (const row of $('deliveries').tBodies[0].rows) row.classList.toggle('selected', Number(row.dataset.seq) === seq);
  const section = $('detail');
  $('replay-result').textContent = '';
  try {
    const d = await (await api(`/deliveries/${seq}`)).json();
    if (state.selected !== seq) return;
    $('detail-seq').textContent = `#${d.seq}`;
    $('detail-summary').textContent = [d.vendor, d.type, d.outcome, d.reason, d.peer].filter(Boolean).join(' · ');
    $('detail-message').textContent = d.message || '';
    const headerRows = $('detail-headers').tBodies[0];
    headerRows.replaceChildren();
    for (const [name, value] of d.headers) {
      const row = headerRows.insertRow();
      cell(row, name, 'mono');
      cell(row, value, 'mono');
    }
    const event = $('detail-event');
    if (d.event) {
      let text = d.event;
      try {
        text = JSON.stringify(JSON.parse(d.event), null, 2);
      } catch {
        text += d.event_cut ? '\n… (cut: the whole event is in the journal)' : '';
      }
      event.textContent = text;
    } else {
      event.textContent = 'No event: the delivery was refused.';
    }
    const body = d.body ?? (d.body_base64 !== undefined ? `(base64) ${d.body_base64}` : null);
    $('detail-body-title').hidden = $('detail-body').hidden = body === null;
    $('detail-body').textContent = body === null ? '' : body + (d.body_cut ? `\n… (cut at ${d.body?.length} of ${d.body_bytes} bytes)` : '');
    const replayButton = $('detail-replay');
    replayButton.hidden = !d.replayable;
    replayButton.onclick = () => replay(seq);
    section.hidden = false;
  } catch (error) {
    $('detail-message').textContent = error.message;
    section.hidden = false;
  }
}

async function replay(seq) {
  const out = $('replay-result');
  out.textContent = `replaying #${seq}…`;
  try {
    const result = await (await api(`/deliveries/${seq}/replay`, { method: 'POST' })).json();
    const words = { accepted: 'accepted', duplicate: 'already in the journal (duplicate)', refused: 'still refused' };
    out.textContent = `#${seq}: ${words[result.outcome] || result.outcome}` +
      (result.type ? `: ${result.type} ${result.id}` : '') +
      (result.reason ? ` (${result.reason}): ${result.message}` : '');
    out.dataset.outcome = result.outcome;
    const row = [...$('deliveries').tBodies[0].rows].find((r) => Number(r.dataset.seq) === seq);
    if (row) row.cells[3].textContent = `${row.dataset.outcome} → ${result.outcome}`;
  } catch (error) {
    out.textContent = `#${seq}: ${error.message}`;
    out.dataset.outcome = 'error';
  }
  if (state.selected !== seq) open(seq);
}

$('token-form').addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = $('token').value.trim();
  sessionStorage.setItem('switchboard-console-token', state.token);
  $('token-form').hidden = true;
  follow();
});

loadToken();
follow();
