// Try a delivery: the processor component, transpiled by jco from the
// same target/switchboard.wasm the receiver runs, instantiated in this
// page. Headers, body and secret are handed to it here and go nowhere else:
// this module makes no request but for its own files.

const $ = (id) => document.getElementById(id);
const encoder = new TextEncoder();
let processor = null;

function show(text, kind) {
  const out = $('try-result');
  out.textContent = text;
  out.className = `json ${kind}`;
  out.dataset.kind = kind;
}

async function load() {
  const glue = new URL('./switchboard.js', import.meta.url);
  let module;
  try {
    module = await import(glue.href);
  } catch {
    $('try-state').textContent = 'the processor is not in this build: run `make build`';
    $('try-state').dataset.ready = 'missing';
    return;
  }
  processor = await instantiate(module);
  $('try-state').textContent = 'processor loaded in the page';
  $('try-state').dataset.ready = 'yes';
}

async function instantiate(module) {
  const compile = (name) => WebAssembly.compileStreaming(fetch(new URL(name, import.meta.url)));
  return (await module.instantiate(compile, {})).processor;
}

// `Name: value` lines; a line without a colon is an error, not skipped.
function parseHeaders(text) {
  const pairs = [];
  text.split(/\r?\n/).forEach((line, n) => {
    if (!line.trim()) return;
    const colon = line.indexOf(':');
    if (colon <= 0) throw new Error(`header line ${n + 1} is not \`Name: value\``);
    pairs.push([line.slice(0, colon).trim(), line.slice(colon + 1).trim()]);
  });
  return pairs;
}

function now() {
  const text = $('try-now').value.trim();
  if (!text) return Math.floor(Date.now() / 1000);
  if (!/^\d+$/.test(text)) throw new Error('`Now` is unix seconds: digits only');
  return Number(text);
}

// The configuration document process-json takes: the one vendor, its
// secret, its scheme when one is named.
function config(vendor) {
  const settings = { secrets: $('try-secret').value ? [$('try-secret').value] : [] };
  const scheme = $('try-scheme').value.trim();
  if (scheme) settings.scheme = scheme;
  return JSON.stringify({ vendors: { [vendor]: settings } });
}

// The error the component returns (jco throws a `result` error with its
// payload), or a trap, after which the instance is replaced.
async function refusal(error) {
  if (error && error.payload && error.payload.class) {
    const { class: kind, reason, message } = error.payload;
    return `refused: ${kind} (${reason}): ${message}`;
  }
  processor = null;
  try {
    processor = await instantiate(await import(new URL('./switchboard.js', import.meta.url).href));
  } catch {
    // Left unloaded: the next try says so.
  }
  return `the processor failed: ${error && error.message ? error.message : error}`;
}

function vendorOf(pairs, body) {
  const chosen = $('try-vendor').value;
  if (chosen) return chosen;
  const detected = processor.detect({ headers: pairs.map(([name, value]) => ({ name, value })), body });
  if (!detected) throw new Error('the vendor cannot be detected from these headers and body: choose one');
  return detected;
}

async function run() {
  if (!processor) return show('the processor is not loaded', 'error');
  let pairs, body, vendor, at;
  try {
    pairs = parseHeaders($('try-headers').value);
    body = encoder.encode($('try-body').value);
    at = now();
    vendor = vendorOf(pairs, body);
  } catch (error) {
    return show(`cannot try this: ${error.message}`, 'error');
  }
  try {
    const event = processor.processBody(pairs, body, vendor, config(vendor), BigInt(at));
    show(JSON.stringify(JSON.parse(event), null, 2), 'ok');
  } catch (error) {
    show(await refusal(error), 'error');
  }
}

async function sign() {
  if (!processor) return show('the processor is not loaded', 'error');
  let body, vendor, at;
  try {
    body = encoder.encode($('try-body').value);
    at = now();
    vendor = $('try-vendor').value;
    if (!vendor) throw new Error('choose the vendor to sign as');
    if (!$('try-secret').value) throw new Error('give the secret to sign with');
  } catch (error) {
    return show(`cannot sign: ${error.message}`, 'error');
  }
  try {
    const headers = processor.sign(vendor, config(vendor), $('try-secret').value, body, BigInt(at), `msg_${at}`);
    const kept = parseHeadersLenient($('try-headers').value).filter(
      ([name]) => !headers.some(([signed]) => signed.toLowerCase() === name.toLowerCase()),
    );
    $('try-headers').value = [...kept, ...headers].map(([n, v]) => `${n}: ${v}`).join('\n');
    if (!$('try-now').value.trim()) $('try-now').value = String(at);
    show(`signed as ${vendor} would at ${at}: the headers are filled in`, 'ok');
  } catch (error) {
    show(await refusal(error), 'error');
  }
}

function parseHeadersLenient(text) {
  try {
    return parseHeaders(text);
  } catch {
    return [];
  }
}

$('try-form').addEventListener('submit', (event) => {
  event.preventDefault();
  run();
});
$('try-sign').addEventListener('click', sign);
load();
