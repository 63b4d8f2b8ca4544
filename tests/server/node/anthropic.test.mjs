// `hearth serve` driven by the official @anthropic-ai/sdk package: /v1/messages with and without
// streaming, system prompts, stop sequences, token counting, and errors.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import Anthropic from '@anthropic-ai/sdk';
import OpenAI from 'openai';

import { startServer } from './harness.mjs';

let server;
let client;
const model = 'stories260K';
const messages = [{ role: 'user', content: 'Tell me a story about a dog.' }];

before(async () => {
  server = await startServer();
  client = new Anthropic({ baseURL: server.url, apiKey: 'unused', maxRetries: 0 });
});
after(async () => {
  const { code } = await server.stop();
  assert.equal(code, 0, server.stderr());
});

describe('anthropic sdk', () => {
  test('messages.create: text content, stop reason, usage', async () => {
    const r = await client.messages.create({ model, max_tokens: 20, temperature: 0, messages });
    assert.equal(r.type, 'message');
    assert.equal(r.role, 'assistant');
    assert.equal(r.model, model);
    assert.match(r.id, /^msg_/);
    assert.equal(r.content.length, 1);
    assert.equal(r.content[0].type, 'text');
    assert.ok(r.content[0].text.length > 0);
    assert.ok(['end_turn', 'max_tokens'].includes(r.stop_reason));
    if (r.stop_reason === 'max_tokens') assert.equal(r.usage.output_tokens, 20);
    // The same conversation through the OpenAI API: same prompt, same greedy answer.
    const oa = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const o = await oa.chat.completions.create({ model, max_tokens: 20, temperature: 0, messages });
    assert.equal(r.usage.input_tokens, o.usage.prompt_tokens);
    assert.equal(r.usage.output_tokens, o.usage.completion_tokens);
    assert.equal(r.content[0].text, o.choices[0].message.content);
    const counted = await client.messages.countTokens({ model, messages });
    assert.equal(counted.input_tokens, r.usage.input_tokens);
  });

  test('a system prompt becomes part of the prompt', async () => {
    const plain = await client.messages.countTokens({ model, messages });
    const withSystem = await client.messages.countTokens({ model, messages, system: 'You are a storyteller.' });
    assert.ok(withSystem.input_tokens > plain.input_tokens);
    const blocks = await client.messages.countTokens({ model, messages, system: [{ type: 'text', text: 'You are a storyteller.' }] });
    assert.equal(blocks.input_tokens, withSystem.input_tokens);
    const r = await client.messages.create({ model, max_tokens: 5, system: 'You are a storyteller.', messages });
    assert.equal(r.usage.input_tokens, withSystem.input_tokens);
  });

  test('streaming: the event sequence and the same text as without streaming', async () => {
    const args = { model, max_tokens: 24, temperature: 0, messages };
    const whole = await client.messages.create(args);
    const stream = await client.messages.create({ ...args, stream: true });
    const types = [];
    let text = '';
    let delta;
    for await (const ev of stream) {
      types.push(ev.type);
      if (ev.type === 'content_block_delta') text += ev.delta.text;
      if (ev.type === 'message_delta') delta = ev;
    }
    assert.equal(types[0], 'message_start');
    assert.equal(types[1], 'content_block_start');
    assert.deepEqual(types.slice(-3), ['content_block_stop', 'message_delta', 'message_stop']);
    assert.ok(types.slice(2, -3).every((t) => t === 'content_block_delta' || t === 'ping'));
    assert.equal(text, whole.content[0].text);
    assert.equal(delta.delta.stop_reason, whole.stop_reason);
    assert.equal(delta.usage.output_tokens, whole.usage.output_tokens);
    // The helper that assembles a message from the events agrees.
    const final = await client.messages.stream(args).finalMessage();
    assert.equal(final.content[0].text, whole.content[0].text);
    assert.equal(final.usage.output_tokens, whole.usage.output_tokens);
    assert.equal(final.stop_reason, whole.stop_reason);
  });

  test('stop_sequences: the text ends before the sequence, which is reported', async () => {
    const greedy = (await client.messages.create({ model, max_tokens: 48, temperature: 0, messages })).content[0].text;
    const words = greedy.split(' ').filter((w) => w.length >= 3);
    assert.ok(words.length > 2, `answer too short: ${greedy}`);
    const stop = words[Math.floor(words.length / 2)];
    const r = await client.messages.create({ model, max_tokens: 48, temperature: 0, messages, stop_sequences: ['qqqq', stop] });
    assert.equal(r.content[0].text, greedy.slice(0, greedy.indexOf(stop)));
    assert.equal(r.stop_reason, 'stop_sequence');
    assert.equal(r.stop_sequence, stop);
    const final = await client.messages.stream({ model, max_tokens: 48, temperature: 0, messages, stop_sequences: [stop] }).finalMessage();
    assert.equal(final.content[0].text, r.content[0].text);
    assert.equal(final.stop_reason, 'stop_sequence');
    assert.equal(final.stop_sequence, stop);
  });

  test('errors in Anthropic shape', async () => {
    await assert.rejects(client.messages.create({ model: 'missing-model', max_tokens: 5, messages }), (e) => {
      assert.ok(e instanceof Anthropic.NotFoundError);
      assert.equal(e.error.type, 'error');
      assert.equal(e.error.error.type, 'not_found_error');
      return true;
    });
    await assert.rejects(client.messages.create({ model, max_tokens: 0, messages }), (e) => {
      assert.ok(e instanceof Anthropic.BadRequestError);
      assert.equal(e.error.error.type, 'invalid_request_error');
      assert.match(e.error.error.message, /max_tokens/);
      return true;
    });
    await assert.rejects(client.messages.create({ model, max_tokens: 5, messages: [{ role: 'system', content: 'x' }] }), Anthropic.BadRequestError);
    await assert.rejects(
      client.messages.create({ model, max_tokens: 5, messages: [{ role: 'user', content: [{ type: 'image', source: { type: 'base64', media_type: 'image/png', data: 'AA==' } }] }] }),
      Anthropic.BadRequestError,
    );
    const ok = await client.messages.create({ model, max_tokens: 2, messages });
    assert.equal(ok.type, 'message');
  });
});
