// `hearth serve` driven by the official openai npm package: models, chat and text completions,
// streaming with usage, stop sequences, sampling parameters, logprobs, and errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import OpenAI from 'openai';

import { cliTokenize, post, startServer } from './harness.mjs';

let server;
let client;
const model = 'stories260K';
const story = [{ role: 'user', content: 'Tell me a story about a cat.' }];

before(async () => {
  server = await startServer();
  client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, server.stderr());
});

// Concatenates a chat stream; returns { text, chunks, finish, usage }.
async function collect(stream) {
  let text = '';
  let finish = null;
  let usage = null;
  const chunks = [];
  for await (const c of stream) {
    chunks.push(c);
    if (c.usage) usage = c.usage;
    for (const ch of c.choices) {
      text += ch.delta?.content ?? ch.text ?? '';
      if (ch.finish_reason) finish = ch.finish_reason;
    }
  }
  return { text, chunks, finish, usage };
}

describe('openai sdk', () => {
  test('lists the loaded model', async () => {
    const list = await client.models.list();
    const ids = list.data.map((m) => m.id);
    assert.deepEqual(ids, [model]);
    assert.equal(list.data[0].object, 'model');
    const one = await client.models.retrieve(model);
    assert.equal(one.id, model);
  });

  test('chat completion: text, finish reason, usage equal to the tokenizer counts', async () => {
    const r = await client.chat.completions.create({ model, messages: story, max_tokens: 24, temperature: 0, logprobs: true });
    assert.equal(r.object, 'chat.completion');
    assert.equal(r.model, model);
    assert.equal(r.choices.length, 1);
    const c = r.choices[0];
    assert.equal(c.message.role, 'assistant');
    assert.ok(c.message.content.length > 0);
    assert.ok(['stop', 'length'].includes(c.finish_reason));
    // The prompt the server built, tokenized by `hearth tokenize` on its own.
    const p = await post(`${server.url}/api/chat/prompt`, { model, messages: story });
    assert.equal(p.json.format, 'fallback');
    assert.equal(p.json.prompt, 'user: Tell me a story about a cat.\n\nassistant:');
    assert.equal(r.usage.prompt_tokens, cliTokenize(p.json.prompt, { special: true }).length);
    assert.equal(r.usage.completion_tokens, c.logprobs.content.length);
    assert.equal(r.usage.total_tokens, r.usage.prompt_tokens + r.usage.completion_tokens);
    if (c.finish_reason === 'length') assert.equal(r.usage.completion_tokens, 24);
  });

  test('streaming gives the same text as the non-streamed answer, then usage and [DONE]', async () => {
    const args = { model, messages: story, max_tokens: 32, temperature: 0 };
    const whole = await client.chat.completions.create(args);
    const s = await collect(await client.chat.completions.create({ ...args, stream: true, stream_options: { include_usage: true } }));
    assert.equal(s.text, whole.choices[0].message.content);
    assert.equal(s.finish, whole.choices[0].finish_reason);
    assert.equal(s.chunks[0].choices[0].delta.role, 'assistant');
    assert.ok(s.chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === s.chunks[0].id));
    // include_usage: a last chunk with no choices carries the usage; the others have usage null.
    const last = s.chunks[s.chunks.length - 1];
    assert.deepEqual(last.choices, []);
    assert.equal(s.usage.completion_tokens, whole.usage.completion_tokens);
    assert.equal(s.usage.prompt_tokens, whole.usage.prompt_tokens);
    assert.ok(s.chunks.slice(0, -1).every((c) => c.usage === null));
    // The finishing chunk carries the server's timings (llama.cpp's extension).
    const fin = s.chunks.find((c) => c.choices[0]?.finish_reason);
    assert.equal(fin.timings.predicted_n, whole.usage.completion_tokens);
    assert.ok(fin.timings.predicted_per_second >= 0);
    // Without include_usage, no usage anywhere.
    const plain = await collect(await client.chat.completions.create({ ...args, stream: true }));
    assert.equal(plain.usage, null);
    assert.equal(plain.text, s.text);
  });

  test('stop sequences end the text before them', async () => {
    const greedy = (await client.chat.completions.create({ model, messages: story, max_tokens: 48, temperature: 0 })).choices[0].message.content;
    // A stop string taken from the middle of the greedy answer.
    const words = greedy.split(' ').filter((w) => w.length >= 3);
    assert.ok(words.length > 2, `answer too short to pick a stop word: ${greedy}`);
    const stop = words[Math.floor(words.length / 2)];
    const expected = greedy.slice(0, greedy.indexOf(stop));
    const r = await client.chat.completions.create({ model, messages: story, max_tokens: 48, temperature: 0, stop: [stop, 'zzzz'] });
    assert.equal(r.choices[0].message.content, expected);
    assert.equal(r.choices[0].finish_reason, 'stop');
    const s = await collect(await client.chat.completions.create({ model, messages: story, max_tokens: 48, temperature: 0, stop, stream: true }));
    assert.equal(s.text, expected);
    assert.equal(s.finish, 'stop');
  });

  test('seed makes sampling repeatable; temperature 0 is greedy', async () => {
    const args = { model, messages: story, max_tokens: 24, temperature: 1.0, top_p: 1, seed: 1234 };
    const a = await client.chat.completions.create(args);
    const b = await client.chat.completions.create(args);
    assert.equal(a.choices[0].message.content, b.choices[0].message.content);
    const texts = new Set();
    for (const seed of [1, 2, 3, 4]) texts.add((await client.chat.completions.create({ ...args, seed })).choices[0].message.content);
    assert.ok(texts.size > 1, 'different seeds should give different samples');
  });

  test('logprobs: top alternatives sorted, the greedy pick first', async () => {
    const r = await client.chat.completions.create({ model, messages: story, max_tokens: 8, temperature: 0, logprobs: true, top_logprobs: 3 });
    const lp = r.choices[0].logprobs.content;
    assert.equal(lp.length, r.usage.completion_tokens);
    for (const e of lp) {
      assert.equal(e.top_logprobs.length, 3);
      assert.ok(e.logprob <= 0);
      for (let i = 1; i < 3; ++i) assert.ok(e.top_logprobs[i - 1].logprob >= e.top_logprobs[i].logprob);
      assert.equal(e.top_logprobs[0].token, e.token);
      assert.deepEqual(e.bytes, [...Buffer.from(e.token, 'utf8')]);
    }
    // The tokens' texts make up the answer (the fallback format drops one leading space).
    assert.equal(lp.map((e) => e.token).join('').replace(/^ /, ''), r.choices[0].message.content);
  });

  test('logit_bias and penalties change what is sampled', async () => {
    const base = await client.chat.completions.create({ model, messages: story, max_tokens: 16, temperature: 0, logprobs: true });
    const first = base.choices[0].logprobs.content[0];
    const banned = await client.chat.completions.create({
      model, messages: story, max_tokens: 16, temperature: 0, logprobs: true, logit_bias: { [first.id]: -100 },
    });
    assert.notEqual(banned.choices[0].logprobs.content[0].id, first.id);
    const text = base.choices[0].message.content;
    const penalized = await client.chat.completions.create({ model, messages: story, max_tokens: 16, temperature: 0, frequency_penalty: 2, presence_penalty: 2 });
    assert.notEqual(penalized.choices[0].message.content, text);
  });

  test('text completions: prompt tokens counted as the tokenizer counts them', async () => {
    const prompt = 'Once upon a time, there was a little dog';
    const r = await client.completions.create({ model, prompt, max_tokens: 10, temperature: 0, logprobs: 2 });
    assert.equal(r.object, 'text_completion');
    assert.equal(r.usage.prompt_tokens, cliTokenize(prompt).length);
    assert.equal(r.usage.completion_tokens, r.choices[0].logprobs.tokens.length);
    assert.equal(r.choices[0].logprobs.top_logprobs[0] && Object.keys(r.choices[0].logprobs.top_logprobs[0]).length, 2);
    assert.equal(r.choices[0].logprobs.tokens.join(''), r.choices[0].text);
    const s = await collect(await client.completions.create({ model, prompt, max_tokens: 10, temperature: 0, stream: true }));
    assert.equal(s.text, r.choices[0].text);
    // Token-id prompts are accepted too.
    const ids = cliTokenize(prompt);
    const t = await client.completions.create({ model, prompt: ids, max_tokens: 10, temperature: 0 });
    assert.equal(t.choices[0].text, r.choices[0].text);
    assert.equal(t.usage.prompt_tokens, ids.length);
  });

  test('max_tokens and max_completion_tokens cap the answer', async () => {
    const r = await client.chat.completions.create({ model, messages: story, max_completion_tokens: 3, temperature: 0, logprobs: true });
    assert.ok(r.usage.completion_tokens <= 3);
    if (r.choices[0].finish_reason === 'length') assert.equal(r.usage.completion_tokens, 3);
  });

  test('errors arrive as the SDK error classes with OpenAI error bodies', async () => {
    await assert.rejects(client.chat.completions.create({ model: 'no-such-model', messages: story }), (e) => {
      assert.ok(e instanceof OpenAI.NotFoundError);
      assert.equal(e.status, 404);
      assert.equal(e.code, 'model_not_found');
      assert.equal(e.param, 'model');
      assert.match(e.message, /no-such-model/);
      return true;
    });
    await assert.rejects(client.chat.completions.create({ model, messages: story, temperature: 7 }), (e) => {
      assert.ok(e instanceof OpenAI.BadRequestError);
      assert.equal(e.param, 'temperature');
      assert.equal(e.type, 'invalid_request_error');
      return true;
    });
    await assert.rejects(client.chat.completions.create({ model, messages: story, n: 2 }), OpenAI.BadRequestError);
    await assert.rejects(client.chat.completions.create({ model, messages: [] }), OpenAI.BadRequestError);
    await assert.rejects(client.chat.completions.create({ model, messages: [{ role: 'wizard', content: 'x' }] }), OpenAI.BadRequestError);
    // Still serving.
    const ok = await client.chat.completions.create({ model, messages: story, max_tokens: 2 });
    assert.equal(ok.choices.length, 1);
  });
});
