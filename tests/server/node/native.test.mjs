// The native API and the CLI around the server: local models from the library, just-in-time
// loading with --ttl, explicit load/unload with settings, loaded models with memory, health,
// metrics; `hearth ls/ps/load/unload` against a running server and without one.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';

import { BIN, MODEL, get, libraryEnv, post, startServer, tempLibrary } from './harness.mjs';

const messages = [{ role: 'user', content: 'Hi' }];
const libName = 'test/tiny/stories260K';

function libraryWithModel() {
  const root = tempLibrary();
  const dir = path.join(root, 'models', 'test', 'tiny');
  fs.mkdirSync(dir, { recursive: true });
  fs.symlinkSync(path.resolve(MODEL), path.join(dir, 'stories260K.gguf'));
  return root;
}

function cli(args, library, env = {}) {
  return spawnSync(BIN, args, { encoding: 'utf8', env: { ...libraryEnv(library), HEARTH_HOST: '', ...env } });
}

async function waitFor(pred, ms) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await pred()) return true;
    await new Promise((r) => setTimeout(r, 100));
  }
  return false;
}

describe('just-in-time loading and TTL', () => {
  let s;
  before(async () => { s = await startServer(['--ttl', '2'], { model: null, library: libraryWithModel() }); });
  after(async () => { assert.equal((await s.stop()).code, 0, s.stderr()); });

  test('a request naming a library model loads it; idle, it unloads after the TTL', async () => {
    assert.deepEqual((await get(`${s.url}/v1/models`)).json.data, []);
    const lib = (await get(`${s.url}/api/models`)).json.models;
    assert.equal(lib.length, 1);
    assert.equal(lib[0].name, libName);
    assert.equal(lib[0].architecture, 'llama');
    assert.equal(lib[0].loaded, false);
    const r = await post(`${s.url}/v1/chat/completions`, { model: libName, messages, max_tokens: 4 });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.model, libName);
    const ps = (await get(`${s.url}/api/ps`)).json.models;
    assert.equal(ps.length, 1);
    assert.equal(ps[0].id, libName);
    assert.equal(ps[0].jit, true);
    assert.ok(ps[0].memory_bytes > 0);
    assert.equal((await get(`${s.url}/api/models`)).json.models[0].loaded, true);
    assert.ok(await waitFor(async () => (await get(`${s.url}/api/ps`)).json.models.length === 0, 15000), 'the model should unload after 2 s idle');
    assert.equal((await get(`${s.url}/metrics`)).text.match(/^hearth_models_loaded (\d+)/m)[1], '0');
  });

  test('requests cannot make the server open arbitrary files', async () => {
    // A GGUF file outside the library.
    const outside = path.join(s.library, 'elsewhere.gguf');
    fs.copyFileSync(MODEL, outside);
    const r = await post(`${s.url}/v1/chat/completions`, { model: outside, messages, max_tokens: 2 });
    assert.equal(r.status, 404);
    assert.equal(r.json.error.code, 'model_not_found');
  });
});

describe('native API', () => {
  let s;
  before(async () => { s = await startServer([], { model: null, library: libraryWithModel() }); });
  after(async () => { assert.equal((await s.stop()).code, 0, s.stderr()); });

  test('health', async () => {
    const h = await get(`${s.url}/api/health`);
    assert.equal(h.status, 200);
    assert.equal(h.json.status, 'ok');
    assert.equal(h.json.models_loaded, 0);
  });

  test('load with settings, list with memory, unload', async () => {
    const l = await post(`${s.url}/api/load`, { model: path.resolve(MODEL), id: 'tiny', n_ctx: 128, n_parallel: 2, device: 'cpu', n_threads: 1 });
    assert.equal(l.status, 200, l.text);
    assert.equal(l.json.model.id, 'tiny');
    assert.equal(l.json.model.n_ctx, 128);
    assert.equal(l.json.model.settings.n_parallel, 2);
    assert.equal(l.json.model.jit, false);
    assert.deepEqual(l.json.model.memory.map((m) => m.device), ['cpu']);
    // Loading it again returns the loaded one.
    assert.equal((await post(`${s.url}/api/load`, { model: 'tiny' })).json.model.id, 'tiny');
    const ids = (await get(`${s.url}/v1/models`)).json.data.map((m) => m.id);
    assert.deepEqual(ids, ['tiny']);
    // Its context is the one asked for: 200 tokens do not fit.
    const long = await post(`${s.url}/v1/completions`, { model: 'tiny', prompt: 'cat '.repeat(150) });
    assert.equal(long.status, 400);
    assert.equal((await post(`${s.url}/v1/completions`, { model: 'tiny', prompt: 'cat', max_tokens: 3 })).status, 200);
    const u = await post(`${s.url}/api/unload`, { model: 'tiny' });
    assert.equal(u.status, 200);
    assert.equal(u.json.unloaded, 'tiny');
    assert.equal((await post(`${s.url}/api/unload`, { model: 'tiny' })).status, 404);
    assert.deepEqual((await get(`${s.url}/api/ps`)).json.models, []);
  });

  test('bad load requests', async () => {
    assert.equal((await post(`${s.url}/api/load`, { model: 'nobody/none' })).status, 404);
    assert.equal((await post(`${s.url}/api/load`, { model: libName, n_ctx: 'big' })).status, 400);
    assert.equal((await post(`${s.url}/api/load`, { model: libName, n_gpu_layers: 'some' })).status, 400);
    assert.equal((await post(`${s.url}/api/load`, { model: libName, device: 'warp-drive:7' })).status, 400);
    const notGguf = path.join(s.library, 'not-a-model.gguf');
    fs.writeFileSync(notGguf, 'hello');
    const r = await post(`${s.url}/api/load`, { model: notGguf });
    assert.ok(r.status >= 400 && r.status < 600, r.text);
    assert.equal(typeof r.json.error.message, 'string');
    assert.equal((await get(`${s.url}/api/health`)).status, 200);
  });

  test('tokenize, detokenize and the chat prompt', async () => {
    await post(`${s.url}/api/load`, { model: libName });
    const t = await post(`${s.url}/api/tokenize`, { model: libName, text: 'Once upon a time' });
    assert.equal(t.status, 200);
    assert.equal(t.json.tokens[0], 1);  // BOS
    const d = await post(`${s.url}/api/detokenize`, { model: libName, tokens: t.json.tokens.slice(1) });
    assert.equal(d.json.text, 'Once upon a time');
    const p = await post(`${s.url}/api/chat/prompt`, { model: libName, messages: [{ role: 'system', content: 'Be nice.' }, ...messages] });
    assert.equal(p.json.prompt, 'system: Be nice.\n\nuser: Hi\n\nassistant:');
    assert.deepEqual(p.json.implicit_stops, ['\nuser:']);
    assert.equal(p.json.n_tokens, p.json.tokens.length);
  });

  test('the planner estimate, downloads list, and the web page at /', async () => {
    const p = await post(`${s.url}/api/plan`, { model: libName, n_ctx: 512 });
    assert.equal(p.status, 200, p.text);
    assert.equal(p.json.n_layers, 5);
    assert.equal(p.json.fits, true);
    assert.ok(p.json.weights_bytes > 1000000);
    assert.ok(p.json.kv_bytes > 0);
    assert.equal(p.json.devices[0].device, 'cpu');
    // A bigger context needs a bigger KV cache.
    const big = await post(`${s.url}/api/plan`, { model: libName, n_ctx: 2048 });
    assert.ok(big.json.kv_bytes > p.json.kv_bytes);
    assert.equal((await post(`${s.url}/api/plan`, { model: 'nobody/none' })).status, 404);
    assert.deepEqual((await get(`${s.url}/api/hub/downloads`)).json, { downloads: [] });
    assert.equal((await post(`${s.url}/api/hub/downloads`, { repo: '../etc' })).status, 400);
    assert.equal((await post(`${s.url}/api/hub/downloads/12345/cancel`, {})).status, 404);
    const page = await fetch(`${s.url}/`);
    assert.equal(page.status, 200);
    assert.match(page.headers.get('content-type'), /^text\/html/);
    assert.match(await page.text(), /Hearth/);
  });

  test('metrics in Prometheus text format', async () => {
    await post(`${s.url}/v1/chat/completions`, { model: libName, messages, max_tokens: 3 });
    const m = await get(`${s.url}/metrics`);
    assert.match(m.headers.get('content-type'), /^text\/plain/);
    const value = (name) => Number(m.text.match(new RegExp(`^${name} (\\S+)$`, 'm'))?.[1]);
    assert.ok(Number(m.text.match(/^hearth_requests_total\{endpoint="\/v1\/chat\/completions",status="200"\} (\d+)/m)[1]) >= 1);
    assert.ok(value('hearth_generated_tokens_total') >= 1);
    assert.ok(value('hearth_prompt_tokens_total') >= 1);
    assert.equal(value('hearth_queue_length'), 0);
    assert.equal(value('hearth_active_generations'), 0);
    assert.ok(value('hearth_time_to_first_token_seconds_count') >= 1);
    assert.match(m.text, /# TYPE hearth_time_to_first_token_seconds histogram/);
    assert.match(m.text, /hearth_tokens_per_second \S+/);
    // Every sample line is "name{labels} value".
    for (const line of m.text.split('\n')) if (line && !line.startsWith('#')) assert.match(line, /^[a-z_]+(\{[^}]*\})? [-0-9.e+Inf]+$/, line);
  });

  test('hearth ps / load / unload / ls against the server', async () => {
    const lib = s.library;
    let r = cli(['load', MODEL, '--id', 'cli-model', '-c', '96', '--host', s.url], lib);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /loaded .* as 'cli-model': 96 tokens of context/);
    r = cli(['ps', '--host', s.url], lib);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /^ID\s+MEMORY/m);
    assert.match(r.stdout, /^cli-model\s+\S+ \S+\s+cpu\s+96 /m);
    r = cli(['ps', '--json'], lib, { HEARTH_HOST: s.url });
    assert.ok(JSON.parse(r.stdout).models.some((m) => m.id === 'cli-model'));
    r = cli(['ls', '--host', s.url], lib);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /test\/tiny\/stories260K[\s\S]*loaded in the server/);
    r = cli(['ls', '--json', '--host', s.url], lib);
    assert.equal(JSON.parse(r.stdout)[0].loaded, true);
    r = cli(['unload', 'cli-model', '--host', s.url], lib);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout.trim(), 'unloaded cli-model');
    r = cli(['unload', 'cli-model', '--host', s.url], lib);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no loaded model answers to 'cli-model'/);
    r = cli(['unload', '--all', '--host', s.url], lib);
    assert.equal(r.status, 0, r.stderr);
    r = cli(['ps', '--host', s.url], lib);
    assert.match(r.stdout, /no models loaded/);
  });

  test('--no-jit refuses models that are not loaded', async () => {
    const strict = await startServer(['--no-jit'], { library: s.library });
    try {
      const r = await post(`${strict.url}/v1/chat/completions`, { model: libName, messages, max_tokens: 2 });
      assert.equal(r.status, 404);
      assert.match(r.json.error.message, /not loaded/);
      assert.equal((await post(`${strict.url}/v1/chat/completions`, { model: 'stories260K', messages, max_tokens: 2 })).status, 200);
    } finally {
      await strict.stop();
    }
  });
});

describe('CLI without a server', () => {
  test('ps, load and unload say that no server runs; ls still lists', () => {
    const lib = libraryWithModel();
    for (const args of [['ps'], ['load', libName], ['unload', 'x'], ['unload', '--all']]) {
      const r = cli([...args, '--host', '127.0.0.1:9'], lib);
      assert.equal(r.status, 1, `${args}: ${r.stderr}`);
      assert.match(r.stderr, /no Hearth server is running at http:\/\/127\.0\.0\.1:9 \(start one with 'hearth serve'\)/);
    }
    const ls = cli(['ls', '--host', '127.0.0.1:9'], lib);
    assert.equal(ls.status, 0, ls.stderr);
    assert.match(ls.stdout, /test\/tiny\/stories260K/);
    assert.doesNotMatch(ls.stdout, /loaded in the server/);
  });

  test('serve --help lists every option', () => {
    const r = spawnSync(BIN, ['serve', '--help'], { encoding: 'utf8' });
    assert.equal(r.status, 0);
    for (const opt of ['--host', '--port', '--api-key', '--cors', '--max-body', '--parallel', '--max-queue', '--ttl', '--no-jit',
      '--shutdown-timeout', '--ctx-size', '--gpu-layers', '--device', '--threads', '--alias', '--web-root'])
      assert.ok(r.stdout.includes(opt), `serve --help misses ${opt}`);
  });
});
