// Starts the real `hearth serve` binary on a free port and offers small helpers shared by the
// server's end-to-end tests. HEARTH_BIN and HEARTH_TEST_MODEL come from ctest (tests/scripts.cmake).
import { spawn, spawnSync } from 'node:child_process';
import net from 'node:net';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const BIN = process.env.HEARTH_BIN;
export const MODEL = process.env.HEARTH_TEST_MODEL;
if (!BIN || !MODEL) throw new Error('set HEARTH_BIN (the hearth binary) and HEARTH_TEST_MODEL (stories260K.gguf)');

// A fresh, empty model library (and LM Studio / Ollama stores) so the tests never see the user's.
export function tempLibrary() {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-server-test-'));
  fs.mkdirSync(path.join(root, 'models'));
  return root;
}

export function libraryEnv(root) {
  return {
    ...process.env,
    HEARTH_MODELS: path.join(root, 'models'),
    HEARTH_LMSTUDIO_MODELS: path.join(root, 'none-lmstudio'),
    HEARTH_OLLAMA_MODELS: path.join(root, 'none-ollama'),
  };
}

// Starts `hearth serve [args]`, resolves once it prints its address. One CPU thread keeps the
// tests quick on a busy machine.
export async function startServer(args = [], { model = MODEL, env = {}, library } = {}) {
  const lib = library ?? tempLibrary();
  // The CPU backend (a GPU, or lavapipe in CI, would make the figures and timing vary).
  const argv = ['serve', ...(model ? [model] : []), '--port', '0', '-t', '1', '--device', 'cpu', ...args];
  const proc = spawn(BIN, argv, { env: { ...libraryEnv(lib), ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  proc.stderr.on('data', (d) => { stderr += d; });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`hearth serve did not start:\n${stderr}`)), 30000);
    proc.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[^\s]+)/);
      if (m) { clearTimeout(timer); resolve(m[1]); }
    });
    proc.on('exit', (code) => { clearTimeout(timer); reject(new Error(`hearth serve exited with ${code}:\n${stderr}`)); });
  });
  const exited = new Promise((resolve) => proc.on('exit', (code, signal) => resolve({ code, signal })));
  return {
    url,
    proc,
    library: lib,
    stderr: () => stderr,
    exited,
    async stop() {
      if (proc.exitCode !== null || proc.signalCode !== null) return exited;
      proc.kill('SIGTERM');
      return exited;
    },
  };
}

// fetch with a JSON body; returns { status, headers, json, text }.
export async function post(url, body, headers = {}) {
  let res;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: typeof body === 'string' || body instanceof Uint8Array ? body : JSON.stringify(body),
    });
  } catch (e) {
    throw new Error(`POST ${url}: ${e.message}: ${e.cause}`);
  }
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, json, text };
}

export async function get(url, headers = {}) {
  const res = await fetch(url, { headers });
  const text = await res.text();
  let json;
  try { json = JSON.parse(text); } catch { json = undefined; }
  return { status: res.status, headers: res.headers, json, text };
}

// Token ids of a text as `hearth tokenize` counts them (an independent path to the tokenizer).
export function cliTokenize(text, { special = false, bos = true } = {}) {
  const args = ['tokenize', MODEL, text, '--json'];
  if (special) args.push('--special');
  if (!bos) args.push('--no-bos');
  const r = spawnSync(BIN, args, { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`hearth tokenize failed: ${r.stderr}`);
  return JSON.parse(r.stdout).ids;
}

// Parses an SSE body into events [{event, data}], checking the framing: every block ends with a
// blank line and holds only "event:", "data:" or comment lines.
export function parseSse(text) {
  if (text.length && !text.endsWith('\n\n')) throw new Error(`SSE body does not end with a blank line: ${JSON.stringify(text.slice(-80))}`);
  const events = [];
  for (const block of text.split('\n\n')) {
    if (!block) continue;
    let event = null;
    const data = [];
    let comment = false;
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) { comment = true; continue; }
      if (line.startsWith('event: ')) event = line.slice(7);
      else if (line.startsWith('data: ')) data.push(line.slice(6));
      else throw new Error(`bad SSE line: ${JSON.stringify(line)}`);
    }
    if (comment && !data.length) continue;
    events.push({ event, data: data.join('\n') });
  }
  return events;
}

export function percentile(sorted, p) {
  if (!sorted.length) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i];
}

// POSTs a large body over a plain socket: the request head goes out the moment the connection
// opens (fetch may encode a big body in between, and on a loaded machine outlast the server's 5 s
// wait for a request), then the body; resolves with { status, json } of the response.
export function rawPost(url, path, body) {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const sock = net.connect(Number(u.port), u.hostname, () => {
      sock.write(`POST ${path} HTTP/1.1\r\nHost: ${u.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n`);
      sock.write(body);
    });
    let data = Buffer.alloc(0);
    sock.on('data', (d) => { data = Buffer.concat([data, d]); });
    sock.on('error', (e) => reject(e));
    sock.on('close', () => {
      const text = data.toString('utf8');
      const m = text.match(/^HTTP\/1\.1 (\d+)/);
      if (!m) return reject(new Error(`no HTTP response: ${JSON.stringify(text.slice(0, 200))}`));
      const bodyText = text.slice(text.indexOf('\r\n\r\n') + 4);
      let json;
      try { json = JSON.parse(bodyText); } catch { json = undefined; }
      resolve({ status: Number(m[1]), json, text: bodyText });
    });
  });
}
