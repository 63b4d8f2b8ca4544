// `hearth serve` over raw HTTP: SSE framing seen by curl, bad input of every kind (each a 4xx JSON
// error, the server serving on), API keys, CORS, the context limit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { get, parseSse, post, rawPost, startServer } from './harness.mjs';

const model = 'stories260K';
const messages = [{ role: 'user', content: 'Hello there' }];

function curl(args) {
  const r = spawnSync('curl', ['-sS', '-N', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout;
}

describe('raw HTTP', () => {
  let s;
  before(async () => { s = await startServer(['-c', '256']); });
  after(async () => { assert.equal((await s.stop()).code, 0, s.stderr()); });

  test('OpenAI SSE framing through curl: data lines, blank-line separated, [DONE] last', () => {
    const body = JSON.stringify({ model, messages, max_tokens: 12, stream: true, stream_options: { include_usage: true } });
    const out = curl(['-H', 'content-type: application/json', '-d', body, `${s.url}/v1/chat/completions`]);
    const events = parseSse(out);
    assert.ok(events.length >= 4);
    assert.ok(events.every((e) => e.event === null));
    assert.equal(events[events.length - 1].data, '[DONE]');
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data));
    assert.ok(chunks.slice(0, -1).some((c) => c.choices[0]?.finish_reason));
    assert.ok(chunks[chunks.length - 1].usage.completion_tokens > 0);
    // Completions stream too.
    const out2 = curl(['-d', JSON.stringify({ model, prompt: 'Once', max_tokens: 5, stream: true }), `${s.url}/v1/completions`]);
    const ev2 = parseSse(out2);
    assert.equal(ev2[ev2.length - 1].data, '[DONE]');
    assert.ok(ev2.slice(0, -1).every((e) => JSON.parse(e.data).object === 'text_completion'));
  });

  test('Anthropic SSE framing through curl: event + data pairs in order', () => {
    const body = JSON.stringify({ model, messages, max_tokens: 6, stream: true });
    const events = parseSse(curl(['-H', 'content-type: application/json', '-d', body, `${s.url}/v1/messages`]));
    const names = events.map((e) => e.event);
    assert.equal(names[0], 'message_start');
    assert.equal(names[names.length - 1], 'message_stop');
    for (const e of events) assert.equal(JSON.parse(e.data).type, e.event);
  });

  test('headers: JSON and event-stream content types', async () => {
    const r = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', body: JSON.stringify({ model, messages, max_tokens: 2, stream: true }) });
    assert.match(r.headers.get('content-type'), /^text\/event-stream/);
    await r.text();
    const j = await post(`${s.url}/v1/chat/completions`, { model, messages, max_tokens: 2 });
    assert.match(j.headers.get('content-type'), /^application\/json/);
  });

  const bad = [
    ['invalid JSON', '{"model": "stories260K", "messages": [', 400, null],
    ['a JSON array body', '[1, 2]', 400, null],
    ['deep nesting', '['.repeat(100000) + ']'.repeat(100000), 400, null],
    ['messages of the wrong type', { model, messages: 'hi' }, 400, 'messages'],
    ['temperature as a string', { model, messages, temperature: 'warm' }, 400, 'temperature'],
    ['stop as a number', { model, messages, stop: 5 }, 400, 'stop'],
    ['max_tokens not an integer', { model, messages, max_tokens: 2.5 }, 400, 'max_tokens'],
    ['negative max_tokens', { model, messages, max_tokens: -1 }, 400, 'max_tokens'],
    ['huge max_tokens', { model, messages, max_tokens: 1e15 }, 400, 'max_tokens'],
    ['max_tokens beyond the context', { model, messages, max_tokens: 100000 }, 400, 'max_tokens'],
    ['no model', { messages }, 400, 'model'],
    ['unknown model', { model: 'nobody/nothing', messages }, 404, 'model'],
    ['a prompt longer than the context', { model, messages: [{ role: 'user', content: 'word '.repeat(400) }] }, 400, 'messages'],
    ['logit_bias with a bad key', { model, messages, logit_bias: { abc: 1 } }, 400, 'logit_bias'],
    ['a text part without text', { model, messages: [{ role: 'user', content: [{ type: 'text' }] }] }, 400, 'messages[0].content[0].text'],
  ];
  for (const [what, body, status, param] of bad) {
    test(`bad input: ${what} -> ${status}`, async () => {
      const r = await post(`${s.url}/v1/chat/completions`, body);
      assert.equal(r.status, status, r.text);
      assert.equal(typeof r.json.error.message, 'string');
      assert.equal(typeof r.json.error.type, 'string');
      assert.equal(r.json.error.param, param);
      assert.equal((await get(`${s.url}/health`)).status, 200);
    });
  }

  test('a prompt longer than the context has the OpenAI code', async () => {
    const r = await post(`${s.url}/v1/completions`, { model, prompt: 'dog '.repeat(400) });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, 'context_length_exceeded');
  });

  test('a 50 MB body is refused with 413 and the server keeps serving', async () => {
    const big = Buffer.from(JSON.stringify({ model, messages: [{ role: 'user', content: 'a'.repeat(50 << 20) }] }));
    const r = await rawPost(s.url, '/v1/chat/completions', big);
    assert.equal(r.status, 413);
    assert.equal(r.json.error.type, 'invalid_request_error');
    const a = await rawPost(s.url, '/v1/messages', big);
    assert.equal(a.status, 413);
    assert.equal(a.json.type, 'error');
    assert.equal(a.json.error.type, 'request_too_large');
    const ok = await post(`${s.url}/v1/chat/completions`, { model, messages, max_tokens: 2 });
    assert.equal(ok.status, 200);
  });

  test('unknown routes and methods are JSON errors', async () => {
    const r = await get(`${s.url}/v1/nothing`);
    assert.equal(r.status, 404);
    assert.ok(r.json.error.message.includes('/v1/nothing'));
    const m = await post(`${s.url}/v1/messages`, { model, messages });
    assert.equal(m.status, 400);
    assert.equal(m.json.error.type, 'invalid_request_error');
    assert.match(m.json.error.message, /max_tokens/);
  });
});

describe('API keys', () => {
  let s;
  before(async () => { s = await startServer(['--api-key', 'sekret-1', '--api-key', 'sekret-2']); });
  after(async () => { assert.equal((await s.stop()).code, 0, s.stderr()); });

  test('missing or wrong keys get 401 in each API shape; Bearer and x-api-key both work', async () => {
    const body = { model, messages, max_tokens: 2 };
    const none = await post(`${s.url}/v1/chat/completions`, body);
    assert.equal(none.status, 401);
    assert.equal(none.json.error.code, 'invalid_api_key');
    const wrong = await post(`${s.url}/v1/chat/completions`, body, { authorization: 'Bearer nope' });
    assert.equal(wrong.status, 401);
    const anth = await post(`${s.url}/v1/messages`, body, { 'x-api-key': 'sekret-3' });
    assert.equal(anth.status, 401);
    assert.equal(anth.json.error.type, 'authentication_error');
    assert.equal((await get(`${s.url}/api/ps`)).status, 401);
    assert.equal((await get(`${s.url}/metrics`)).status, 401);
    assert.equal((await post(`${s.url}/v1/chat/completions`, body, { authorization: 'Bearer sekret-1' })).status, 200);
    assert.equal((await post(`${s.url}/v1/messages`, body, { 'x-api-key': 'sekret-2' })).status, 200);
    assert.equal((await get(`${s.url}/api/ps`, { authorization: 'Bearer sekret-2' })).status, 200);
    // Health stays open for probes.
    assert.equal((await get(`${s.url}/health`)).status, 200);
  });
});

describe('CORS', () => {
  let s;
  before(async () => { s = await startServer(['--cors', 'http://ui.example:5173']); });
  after(async () => { assert.equal((await s.stop()).code, 0, s.stderr()); });

  test('allowed origins get the headers, others do not', async () => {
    const pre = await fetch(`${s.url}/v1/chat/completions`, {
      method: 'OPTIONS',
      headers: { origin: 'http://ui.example:5173', 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type, authorization' },
    });
    assert.equal(pre.status, 204);
    assert.equal(pre.headers.get('access-control-allow-origin'), 'http://ui.example:5173');
    assert.match(pre.headers.get('access-control-allow-methods'), /POST/);
    assert.match(pre.headers.get('access-control-allow-headers'), /authorization/);
    const r = await fetch(`${s.url}/v1/models`, { headers: { origin: 'http://ui.example:5173' } });
    assert.equal(r.headers.get('access-control-allow-origin'), 'http://ui.example:5173');
    const other = await fetch(`${s.url}/v1/models`, { headers: { origin: 'http://evil.example' } });
    assert.equal(other.status, 200);
    assert.equal(other.headers.get('access-control-allow-origin'), null);
    const otherPre = await fetch(`${s.url}/v1/models`, { method: 'OPTIONS', headers: { origin: 'http://evil.example', 'access-control-request-method': 'GET' } });
    assert.equal(otherPre.status, 403);
    assert.equal(otherPre.headers.get('access-control-allow-origin'), null);
  });

  test('without --cors no CORS headers at all', async () => {
    const plain = await startServer();
    try {
      const r = await fetch(`${plain.url}/v1/models`, { headers: { origin: 'http://ui.example:5173' } });
      assert.equal(r.headers.get('access-control-allow-origin'), null);
    } finally {
      await plain.stop();
    }
  });
});
