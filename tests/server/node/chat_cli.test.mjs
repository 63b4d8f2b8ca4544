// `hearth chat` in a pseudo-terminal (tmux): a question gets a streamed answer with tokens/s,
// Ctrl-C stops the answer and not the program, /system, /clear, /exit.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';

import { BIN, MODEL, libraryEnv, tempLibrary } from './harness.mjs';

const session = `hearth-chat-test-${process.pid}`;
const env = libraryEnv(tempLibrary());

function tmux(...args) {
  const r = spawnSync('tmux', args, { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`tmux ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}
const screen = () => tmux('capture-pane', '-p', '-J', '-S', '-200', '-t', session);
async function until(pred, ms, what) {
  const end = Date.now() + ms;
  let s = '';
  while (Date.now() < end) {
    s = screen();
    if (pred(s)) return s;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}; screen:\n${s}`);
}
const count = (s, sub) => s.split(sub).length - 1;

describe('hearth chat in a terminal', () => {
  before(() => {
    // "; sleep" keeps the pane (and its last screen) after the program ends. An answer of 3000
    // tokens takes seconds (800 took 0.3 s: on a loaded machine it could end before the Ctrl-C).
    tmux('new-session', '-d', '-s', session, '-x', '200', '-y', '50',
      `'${BIN}' chat '${MODEL}' -t 1 --device cpu --temp 0 -c 4096 -n 3000; echo "exit status $?"; sleep 30`);
  });
  after(() => { spawnSync('tmux', ['kill-session', '-t', session], { env }); });

  test('streams answers, Ctrl-C stops one, commands work', async () => {
    await until((s) => s.includes('>>> '), 20000, 'the prompt');
    // A long answer (up to 3000 tokens): interrupted once it has started streaming.
    tmux('send-keys', '-t', session, 'Tell me a story', 'Enter');
    await until((s) => /Tell me a story\n.{20,}/.test(s), 20000, 'the answer to stream');
    tmux('send-keys', '-t', session, 'C-c');
    let s = await until((s) => s.includes('[interrupted]') && / tokens\/s/.test(s) && count(s, '>>> ') >= 2, 20000, 'the interrupted answer');
    assert.match(s, /\[\d+ tokens, [\d.]+ tokens\/s\]/);
    // The program is still there: Ctrl-C at the prompt only explains how to quit.
    tmux('send-keys', '-t', session, 'C-c');
    await until((s) => s.includes('/exit or Ctrl-D quits'), 10000, 'the Ctrl-C hint');
    tmux('send-keys', '-t', session, '/system Be brief.', 'Enter');
    await until((s) => s.includes('(system prompt set)'), 10000, '/system');
    tmux('send-keys', '-t', session, '/clear', 'Enter');
    await until((s) => s.includes('(conversation cleared)'), 10000, '/clear');
    tmux('send-keys', '-t', session, 'Hi', 'Enter');
    s = await until((s) => count(s, ' tokens/s') >= 2 && s.trimEnd().endsWith('>>>'), 60000, 'a second answer');
    tmux('send-keys', '-t', session, '/exit', 'Enter');
    s = await until((s) => s.includes('exit status'), 10000, 'the program to end');
    assert.match(s, /exit status 0/);
  });
});
