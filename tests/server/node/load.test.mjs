// Concurrency of `hearth serve`: 32 concurrent streaming clients (a third leave early) get
// well-formed, uncorrupted streams; a full queue answers 503 with Retry-After; a client that
// disconnects stops its generation; SIGTERM shuts down gracefully. Prints requests/s and
// time-to-first-token percentiles (a report, not an assertion).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import { get, parseSse, percentile, post, startServer } from './harness.mjs';

const model = 'stories260K';
const prompts = ['Tell me about a cat.', 'Tell me about a dog.', 'Tell me about the sea.', 'Tell me about a tree.'];

function metric(text, name) {
  const m = text.match(new RegExp(`^${name} (\\S+)$`, 'm'));
  return m ? Number(m[1]) : NaN;
}

async function idle(url, ms = 10000) {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const ps = (await get(`${url}/api/ps`)).json.models;
    if (ps.every((m) => m.active === 0 && m.waiting === 0)) return true;
    await new Promise((r) => setTimeout(r, 50));
  }
  return false;
}

describe('32 concurrent streaming clients', () => {
  let s;
  before(async () => { s = await startServer(['--parallel', '2', '--max-queue', '64']); });
  after(async () => { assert.equal((await s.stop()).code, 0, s.stderr()); });

  test('every completed stream is well-formed and equals its sequential answer; leavers free their slot', async () => {
    const client = new OpenAI({ baseURL: `${s.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    // Greedy answers one at a time: what each concurrent stream must reproduce exactly.
    const expected = [];
    for (const p of prompts)
      expected.push((await client.chat.completions.create({ model, messages: [{ role: 'user', content: p }], max_tokens: 40, temperature: 0 })).choices[0].message.content);

    const n = 32;
    const t0 = performance.now();
    const results = await Promise.all(Array.from({ length: n }, async (_, i) => {
      const leave = i % 3 === 0;
      const start = performance.now();
      const body = { model, messages: [{ role: 'user', content: prompts[i % prompts.length] }], max_tokens: 40, temperature: 0, stream: true, stream_options: { include_usage: true } };
      const ctrl = new AbortController();
      const res = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify(body), signal: ctrl.signal, headers: { 'content-type': 'application/json' } });
      assert.equal(res.status, 200);
      const reader = res.body.getReader();
      const dec = new TextDecoder();
      let raw = '';
      let ttft = null;
      for (;;) {
        let chunk;
        try {
          chunk = await reader.read();
        } catch (e) {
          if (leave) break;
          throw e;
        }
        if (chunk.done) break;
        raw += dec.decode(chunk.value, { stream: true });
        if (ttft === null && raw.includes('"content":"') && /"content":"[^"]/.test(raw)) ttft = performance.now() - start;
        if (leave && ttft !== null) { ctrl.abort(); break; }
      }
      return { i, leave, raw, ttft, total: performance.now() - start };
    }));
    const elapsed = (performance.now() - t0) / 1000;

    let completed = 0;
    for (const r of results) {
      if (r.leave) continue;
      const events = parseSse(r.raw);
      assert.equal(events[events.length - 1].data, '[DONE]', `stream ${r.i} did not end with [DONE]`);
      const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
      assert.ok(chunks.every((c) => c.id === chunks[0].id), `stream ${r.i} mixes ids`);
      const text = chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('');
      assert.equal(text, expected[r.i % prompts.length], `stream ${r.i} differs from the sequential answer`);
      assert.ok(chunks.some((c) => c.choices[0]?.finish_reason), `stream ${r.i} has no finish_reason`);
      assert.ok(chunks[chunks.length - 1].usage.completion_tokens > 0);
      ++completed;
    }
    assert.equal(completed, n - Math.ceil(n / 3));
    assert.ok(await idle(s.url), 'slots and queue should drain');
    const m = (await get(`${s.url}/metrics`)).text;
    assert.equal(metric(m, 'hearth_queue_length'), 0);
    assert.equal(metric(m, 'hearth_active_generations'), 0);
    // Still serving.
    assert.equal((await post(`${s.url}/v1/chat/completions`, { model, messages: [{ role: 'user', content: 'Hi' }], max_tokens: 2 })).status, 200);

    const ttfts = results.map((r) => r.ttft).filter((x) => x !== null).sort((a, b) => a - b);
    console.log(`# load: ${n} streaming clients (${Math.ceil(n / 3)} leaving early), 2 slots: ${(n / elapsed).toFixed(1)} requests/s, ` +
      `TTFT p50 ${percentile(ttfts, 50).toFixed(0)} ms, p90 ${percentile(ttfts, 90).toFixed(0)} ms, p99 ${percentile(ttfts, 99).toFixed(0)} ms`);
  });
});

describe('queue bound, disconnects, shutdown', () => {
  let s;
  before(async () => { s = await startServer(['--parallel', '1', '--max-queue', '2']); });
  after(async () => { await s.stop(); });

  const long = { model, prompt: 'Once upon a time', max_tokens: 1500, ignore_eos: true, stream: true };

  test('beyond the queue bound: 503 with Retry-After and an OpenAI error body', async () => {
    const ctrls = [];
    const statuses = await Promise.all(Array.from({ length: 6 }, async () => {
      const ctrl = new AbortController();
      ctrls.push(ctrl);
      const res = await fetch(`${s.url}/v1/completions`, { method: 'POST', body: JSON.stringify(long), signal: ctrl.signal });
      if (res.status === 503) {
        assert.equal(res.headers.get('retry-after'), '1');
        const j = await res.json();
        assert.equal(j.error.type, 'server_error');
        assert.match(j.error.message, /busy/);
      }
      return res.status;
    }));
    // One generating, two waiting, three turned away.
    assert.deepEqual(statuses.sort(), [200, 200, 200, 503, 503, 503]);
    const m = (await get(`${s.url}/metrics`)).text;
    assert.equal(metric(m, 'hearth_rejected_requests_total'), 3);
    for (const c of ctrls) c.abort();
    assert.ok(await idle(s.url), 'the abandoned streams should free the slot and the queue');
    // Served again, through another API family too.
    const a = await post(`${s.url}/v1/messages`, { model, max_tokens: 2, messages: [{ role: 'user', content: 'Hi' }] });
    assert.equal(a.status, 200);
  });

  test('a client that disconnects mid-stream stops its generation at once', async () => {
    const before = metric((await get(`${s.url}/metrics`)).text, 'hearth_generated_tokens_total');
    const ctrl = new AbortController();
    const res = await fetch(`${s.url}/v1/completions`, { method: 'POST', body: JSON.stringify(long), signal: ctrl.signal });
    const reader = res.body.getReader();
    await reader.read();
    await reader.read();
    ctrl.abort();
    assert.ok(await idle(s.url, 5000), 'the generation should stop when its client leaves');
    const generated = metric((await get(`${s.url}/metrics`)).text, 'hearth_generated_tokens_total') - before;
    assert.ok(generated < 1500, `generated ${generated} tokens for a client that left`);
  });

  test('SIGTERM: running streams finish or end with an error event, then the server exits 0', async () => {
    const g = await startServer(['--shutdown-timeout', '0.5']);
    const res = await fetch(`${g.url}/v1/completions`, { method: 'POST', body: JSON.stringify({ ...long, max_tokens: 1900 }) });
    const reader = res.body.getReader();
    const dec = new TextDecoder();
    let raw = dec.decode((await reader.read()).value);
    g.proc.kill('SIGTERM');
    for (;;) {
      const c = await reader.read();
      if (c.done) break;
      raw += dec.decode(c.value, { stream: true });
    }
    const { code } = await g.exited;
    assert.equal(code, 0, g.stderr());
    const events = parseSse(raw);
    const last = events[events.length - 1].data;
    // Either it finished in time ([DONE]) or it was told why it stopped.
    if (last !== '[DONE]') assert.match(JSON.parse(last).error.message, /shutting down/);
    await assert.rejects(fetch(`${g.url}/health`));
  });
});
