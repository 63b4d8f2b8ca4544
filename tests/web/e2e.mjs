// End-to-end test of the web UI: the real `hearth serve` with the bundled model, driven in headless
// Chromium (Debian's) through playwright-core. Screenshots of each state go to the artifacts folder.
// Exit 77 (skip) when chromium, the npm packages, `hearth serve` or the embedded UI are missing.
//
//   node tests/web/e2e.mjs --hearth build/release/bin/hearth --data tests/data \
//        --web-dir apps/server/web --artifacts build/release/test-artifacts/web
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const SKIP = 77;
const args = process.argv.slice(2);
const opt = (name, def) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : def;
};
const hearth = path.resolve(opt('--hearth', 'build/release/bin/hearth'));
const data_root = process.env.HEARTH_TEST_DATA || opt('--data', 'tests/data');
const model = path.resolve(data_root, 'models/tinyllamas/stories260K.gguf');
const web_dir = path.resolve(opt('--web-dir', 'apps/server/web'));
const artifacts = path.resolve(opt('--artifacts', 'build/test-artifacts/web'));
const chromium_path = process.env.HEARTH_CHROMIUM || opt('--chromium', '/usr/bin/chromium');
const only = opt('--only', '');

function skip(why) {
  console.log(`SKIP: ${why}`);
  process.exit(SKIP);
}

if (!fs.existsSync(chromium_path)) skip(`no chromium at ${chromium_path} (scripts/setup-deps.sh installs it)`);
let chromium;
try {
  chromium = createRequire(path.join(web_dir, 'package.json'))('playwright-core').chromium;
} catch {
  skip(`playwright-core is not installed: run npm ci in ${web_dir}`);
}
if (!fs.existsSync(hearth)) skip(`no hearth binary at ${hearth}`);
const serve_help = spawnSync(hearth, ['serve', '--help'], { encoding: 'utf8' });
if (serve_help.status !== 0 || !serve_help.stdout.includes('--port')) skip('this hearth has no serve command');
if (!fs.existsSync(model)) skip(`no model at ${model}`);

fs.mkdirSync(artifacts, { recursive: true });
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'hearth-web-'));
const env = {
  ...process.env,
  HOME: tmp,
  HEARTH_MODELS: path.join(tmp, 'models'),
  HEARTH_LMSTUDIO_MODELS: '',
  HEARTH_OLLAMA_MODELS: '',
  HF_ENDPOINT: 'http://127.0.0.1:9', // nothing outside this machine, ever
};
const imp = spawnSync(hearth, ['import', '--link', '--as', 'hearth/stories', model], { env, encoding: 'utf8' });
if (imp.status !== 0) {
  console.error(`hearth import failed: ${imp.stderr}`);
  process.exit(1);
}
const MODEL = 'hearth/stories/stories260K';

const servers = [];
async function start_server(extra = []) {
  const p = spawn(hearth, ['serve', '--port', '0', '--device', 'cpu', ...extra], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  servers.push(p);
  let err = '';
  p.stderr.on('data', (d) => (err += d));
  const port = await new Promise((resolve, reject) => {
    let out = '';
    const t = setTimeout(() => reject(new Error(`hearth serve did not start: ${err}`)), 20000);
    p.stdout.on('data', (d) => {
      out += d;
      const m = out.match(/listening on http:\/\/[\d.]+:(\d+)/);
      if (m) {
        clearTimeout(t);
        resolve(Number(m[1]));
      }
    });
    p.on('exit', (code) => reject(new Error(`hearth serve exited (${code}): ${err}`)));
  });
  return { proc: p, base: `http://127.0.0.1:${port}`, origin: `127.0.0.1:${port}`, log: () => err };
}

function stop_servers() {
  for (const p of servers) if (p.exitCode === null) p.kill('SIGTERM');
}
process.on('exit', () => {
  stop_servers();
  fs.rmSync(tmp, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// a tiny runner: each case prints ok/not ok; the last line is "N passed, N failed".

const results = [];
let own_page = null; // the page a case opened itself (watch() records it): its failure screenshot
async function test(name, fn) {
  if (only && !only.split(',').some((o) => name.includes(o))) return;
  const t0 = Date.now();
  own_page = null;
  try {
    await fn();
    results.push([name, true]);
    console.log(`ok - ${name} (${Date.now() - t0} ms)`);
  } catch (e) {
    results.push([name, false]);
    await (own_page ?? page)?.screenshot({ path: path.join(artifacts, `failed-${results.length}.png`) }).catch(() => {});
    console.log(`not ok - ${name}\n  ${String(e?.stack || e).split('\n').slice(0, 6).join('\n  ')}`);
  }
}
function assert(cond, msg) {
  if (!cond) throw new Error(`assertion failed: ${msg}`);
}
const shot = (page, name) => page.screenshot({ path: path.join(artifacts, `${name}.png`), fullPage: false });

// New browser contexts start with short answers (the bundled model tells long stories).
const short_answers = (c) => c.addInitScript(() => localStorage.getItem('hearth.sampling') || localStorage.setItem('hearth.sampling', JSON.stringify({ max_tokens: 40 })));

// Every request a page makes, to check that none leaves the server's origin.
const requests = [];
function watch(page) {
  own_page = page;
  page.on('request', (r) => requests.push(r.url()));
  page.on('pageerror', (e) => console.log(`  page error: ${e.message}`));
}

let page = null;
const srv = await start_server();
if ((await (await fetch(srv.base + '/')).text()).includes('has no web UI')) skip('this hearth was built without the web UI (HEARTH_WEB)');
const browser = await chromium.launch({ executablePath: chromium_path, args: ['--no-sandbox', '--disable-gpu'] });
const ctx = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: 'light' });
page = await ctx.newPage();
watch(page);
const figures = {};

// Sets the open chat's sampling through the settings dialog.
async function chat_settings(p, values) {
  await p.getByRole('button', { name: 'Chat settings' }).first().click();
  const d = p.locator('#settings-dialog');
  for (const [label, v] of Object.entries(values)) {
    if (typeof v === 'boolean') await d.getByLabel(label).setChecked(v);
    else await d.getByLabel(label, { exact: true }).fill(String(v));
  }
  await d.getByRole('button', { name: 'Close' }).click();
  await d.waitFor({ state: 'hidden' }); // a modal dialog still open would take the next key presses
}

const assistant = (p) => p.locator('article.msg.assistant');

await test('first paint: the page loads from the server alone', async () => {
  await page.goto(srv.base + '/');
  await page.getByRole('heading', { name: 'Start a conversation' }).waitFor();
  const fcp = await page.evaluate(
    () =>
      new Promise((resolve) => {
        new PerformanceObserver((list) => {
          const e = list.getEntriesByName('first-contentful-paint')[0];
          if (e) resolve(e.startTime);
        }).observe({ type: 'paint', buffered: true });
        setTimeout(() => resolve(undefined), 5000);
      }),
  );
  const nav = await page.evaluate(() => {
    const n = performance.getEntriesByType('navigation')[0];
    return { dcl: n.domContentLoadedEventEnd, load: n.loadEventEnd };
  });
  assert(typeof fcp === 'number' && fcp > 0, 'a first-contentful-paint entry');
  figures.first_contentful_paint_ms = Math.round(fcp);
  figures.dom_content_loaded_ms = Math.round(nav.dcl);
  const csp = (await page.request.get(srv.base + '/')).headers()['content-security-policy'] || '';
  assert(csp.includes("default-src 'self'"), 'the page is served with a same-origin content security policy');
  // Bundle size: every file the page loads, as served and gzipped.
  let bytes = 0;
  let gz = 0;
  for (const f of ['/', '/theme.js', '/app.css', '/app.js', '/favicon.svg']) {
    const b = await (await page.request.get(srv.base + f)).body();
    bytes += b.length;
    gz += gzipSync(b, { level: 9 }).length;
  }
  figures.bundle_bytes = bytes;
  figures.bundle_gzip_bytes = gz;
  await shot(page, '01-empty');
});

await test('load a model from the library with settings', async () => {
  await page.getByTestId('model-button').click();
  const d = page.locator('#models-dialog');
  const row = d.getByTestId('library-model').filter({ hasText: MODEL });
  await row.waitFor();
  const text = await row.innerText();
  assert(text.includes('llama') && text.includes('F32'), `library row shows architecture and quantization: ${text}`);
  await row.getByRole('button', { name: /Load/ }).click();
  // Beyond the model's 2048: a story with ignore-EOS then takes long enough to stop it by hand.
  await d.getByLabel('Context length').fill('16384');
  await d.getByLabel('CPU threads').fill('1');
  await d.getByTestId('plan').waitFor();
  await shot(page, '02-load-settings');
  await d.getByRole('button', { name: 'Load', exact: true }).click();
  await d.getByTestId('loaded-model').filter({ hasText: MODEL }).waitFor({ timeout: 30000 });
  const loaded = await d.getByTestId('loaded-model').innerText();
  assert(loaded.includes('16384 ctx'), `loaded model shows its context: ${loaded}`);
  const ps = await (await page.request.get(srv.base + '/api/ps')).json();
  assert(ps.models.length === 1 && ps.models[0].n_ctx === 16384, 'the server has the model loaded with 16384 tokens of context');
  await shot(page, '03-models-loaded');
  await d.getByRole('button', { name: 'Close' }).click();
  assert((await page.getByTestId('model-button').innerText()).includes(MODEL), 'the model button names the loaded model');
});

await test('send a message and see the answer stream in', async () => {
  await page.getByRole('button', { name: '+ New chat' }).click();
  await chat_settings(page, { 'Max tokens': 60 });
  const box = page.getByRole('textbox', { name: 'Message', exact: true });
  await box.fill('Once upon a time');
  await box.press('Enter');
  await assistant(page).last().waitFor();
  await page.getByRole('button', { name: 'Send message' }).waitFor({ timeout: 60000 });
  const answer = (await assistant(page).last().locator('.content').innerText()).trim();
  assert(answer.length > 0, 'the answer has text');
  const stats = await assistant(page).last().getByTestId('answer-stats').innerText();
  assert(/TTFT \d+ ms/.test(stats) && /tok\/s/.test(stats), `answer shows TTFT and tokens/s: ${stats}`);
  figures.answer_stats = stats;
  const title = await page.locator('.conv.active .conv-title').innerText();
  assert(title === 'Once upon a time', `the chat is named after the first message: ${title}`);
  await shot(page, '05-answer');
});

await test('a long answer streams in, and stops', async () => {
  // Record every length the answer's text takes while it streams.
  await page.evaluate(() => {
    window.__lengths = new Set();
    new MutationObserver(() => {
      const a = document.querySelectorAll('article.msg.assistant .content');
      if (a.length > 1) window.__lengths.add(a[a.length - 1].textContent.length);
    }).observe(document.body, { subtree: true, childList: true, characterData: true });
  });
  await chat_settings(page, { 'Max tokens': 0, 'Keep going past the end of text (ignore EOS)': true });
  const box = page.getByRole('textbox', { name: 'Message', exact: true });
  await box.fill('Tell me a very long story');
  const sent = page.waitForRequest((r) => r.url().endsWith('/v1/chat/completions'));
  await box.press('Enter');
  const body = JSON.parse((await sent).postData());
  assert(body.ignore_eos === true && body.max_tokens === undefined && body.stream === true, `the chat's settings go with the request: ${JSON.stringify(body)}`);
  assert(body.messages.length === 3 && body.messages[2].content === 'Tell me a very long story', 'the whole conversation is sent');
  const last = assistant(page).nth(1);
  await page.waitForFunction(() => [...window.__lengths].filter((n) => n > 0).length >= 3, null, { timeout: 30000 });
  await shot(page, '06-streaming');
  await page.getByRole('button', { name: 'Stop generating' }).click();
  await page.getByRole('button', { name: 'Send message' }).waitFor({ timeout: 10000 });
  const stats = await last.getByTestId('answer-stats').innerText();
  assert(stats.includes('stopped by you'), `the answer says it was stopped: ${stats}`);
  const n = Number(stats.match(/(\d+) tokens/)?.[1] ?? 0);
  assert(n > 0 && n < 16000, `stopped before the context filled: ${n} tokens`);
  // The server stops generating too: no generation stays active.
  let active = -1;
  for (let i = 0; i < 50 && active !== 0; i++) {
    active = (await (await page.request.get(srv.base + '/api/ps')).json()).models[0].active;
    if (active) await page.waitForTimeout(100);
  }
  assert(active === 0, 'the server has no generation running after stop');
  await shot(page, '06b-stopped');
  await chat_settings(page, { 'Max tokens': 40, 'Keep going past the end of text (ignore EOS)': false });
});

await test('edit a message and resend it; regenerate an answer', async () => {
  const first_user = page.locator('article.msg.user').first();
  await first_user.getByRole('button', { name: 'Edit' }).click();
  await page.getByLabel('Edit message').fill('Once upon a time there was a cat');
  await page.getByRole('button', { name: 'Save & send' }).click();
  await page.getByRole('button', { name: 'Send message' }).waitFor({ timeout: 60000 });
  assert((await page.locator('article.msg').count()) === 2, 'editing the first message drops what came after it');
  assert((await page.locator('article.msg.user').innerText()).includes('there was a cat'), 'the edited text was sent');
  await page.getByRole('button', { name: 'Regenerate' }).click();
  await page.getByRole('button', { name: 'Send message' }).waitFor({ timeout: 60000 });
  assert((await page.locator('article.msg').count()) === 2, 'regenerating replaces the answer');
  assert((await assistant(page).last().locator('.content').innerText()).trim().length > 0, 'the new answer has text');
});

await test('reload and find the conversation', async () => {
  const before = await assistant(page).last().locator('.content').innerText();
  await page.reload();
  const item = page.locator('.conv-title', { hasText: 'Once upon a time' });
  await item.waitFor();
  await item.click();
  const after = await assistant(page).last().locator('.content').innerText();
  assert(after === before, 'the answer is the same after reloading');
  assert((await page.locator('article.msg.user').innerText()).includes('there was a cat'), 'the edited question is kept');
  await shot(page, '07-reloaded');
});

await test('rename and delete conversations', async () => {
  await page.getByRole('button', { name: '+ New chat' }).click();
  const box = page.getByRole('textbox', { name: 'Message', exact: true });
  await box.fill('A second chat');
  await box.press('Enter');
  await page.getByRole('button', { name: 'Send message' }).waitFor({ timeout: 60000 });
  await page.getByRole('button', { name: 'Rename chat A second chat' }).click();
  await page.getByLabel('Chat title').fill('Renamed chat');
  await page.getByLabel('Chat title').press('Enter');
  await page.locator('.conv-title', { hasText: 'Renamed chat' }).waitFor();
  await page.getByRole('button', { name: 'Delete chat Renamed chat' }).click();
  await page.getByRole('button', { name: 'Delete?' }).click();
  await page.waitForTimeout(400); // saving is deferred by 300 ms
  await page.reload();
  await page.locator('.conv-title', { hasText: 'Once upon a time' }).waitFor();
  assert((await page.locator('.conv-title', { hasText: 'Renamed chat' }).count()) === 0, 'the deleted chat stays deleted after reloading');
});

await test('switch theme (kept across reloads)', async () => {
  const bg = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
  const light = await bg();
  // The theme is applied by an effect after the render, so wait for it rather than read it at once.
  const theme_is = (t) => page.waitForFunction((want) => document.documentElement.dataset.theme === want, t, { timeout: 5000 }).then(() => true, () => false);
  await page.getByTestId('theme-toggle').click();
  assert(await theme_is('dark'), 'dark theme set');
  const dark = await bg();
  assert(light !== dark, `the background changes (${light} -> ${dark})`);
  await page.locator('.conv-title', { hasText: 'Once upon a time' }).click();
  await shot(page, '08-dark');
  await page.reload();
  await page.getByTestId('theme-toggle').waitFor();
  assert(await theme_is('dark'), 'the theme is kept after reloading');
  await page.getByTestId('theme-toggle').click();
  assert(await theme_is('light'), 'light theme set again');
  assert((await bg()) === light, 'back to the light theme');
});

await test('markdown: code highlighted with a copy button, model HTML shown as text', async () => {
  // A stored chat whose answer holds what a model might write (the bundled model writes only stories).
  const answer = [
    '# Title',
    'Some **bold** text, `inline code` and a [link](https://example.com) and [bad](javascript:alert(1)).',
    '<img src="http://evil.invalid/a.png" onerror="window.__pwned=1"> <script>window.__pwned=2</script>',
    '![picture](http://evil.invalid/b.png)',
    '```python',
    'def add(a, b):',
    '    return a + b  # sum',
    '```',
    '| a | b |',
    '|---|---|',
    '| 1 | 2 |',
  ].join('\n');
  // Added as the next document starts (the page saves its own list as it unloads).
  await page.addInitScript((answer) => {
    if (sessionStorage.getItem('md-seeded')) return;
    sessionStorage.setItem('md-seeded', '1');
    const list = JSON.parse(localStorage.getItem('hearth.conversations.v1') || '[]');
    list.unshift({ id: 'md-test', title: 'Markdown test', created: Date.now(), updated: Date.now(), model: '', system: '', messages: [
      { role: 'user', content: 'Show me some code' },
      { role: 'assistant', content: answer, stats: { ttft_ms: 12, tok_s: 34.5, n_tokens: 56, finish: 'stop' } },
    ] });
    localStorage.setItem('hearth.conversations.v1', JSON.stringify(list));
  }, answer);
  await ctx.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: srv.base });
  await page.reload();
  await page.locator('.conv-title', { hasText: 'Markdown test' }).click();
  const md = assistant(page).last().locator('.markdown');
  await md.locator('h1', { hasText: 'Title' }).waitFor();
  assert((await md.locator('strong').innerText()) === 'bold', 'bold text');
  assert((await md.locator('table td').count()) === 2, 'a table');
  assert((await md.locator('img').count()) === 0, 'no image element: neither raw HTML nor Markdown images load anything');
  assert((await md.innerText()).includes('<img src="http://evil.invalid/a.png"'), 'raw HTML is shown as text');
  assert((await page.evaluate(() => window.__pwned)) === undefined, 'no script from the answer ran');
  const hrefs = await md.locator('a').evaluateAll((as) => as.map((a) => a.getAttribute('href')));
  assert(hrefs.includes('https://example.com') && !hrefs.some((h) => h.startsWith('javascript')), `safe links only: ${hrefs}`);
  const code = md.locator('.code-block');
  assert((await code.locator('.code-lang').innerText()) === 'python', 'the code block names its language');
  assert((await code.locator('.hljs-keyword').count()) >= 1 && (await code.locator('.hljs-comment').count()) === 1, 'the code is highlighted');
  await code.getByRole('button', { name: 'Copy code' }).click();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  assert(copied === 'def add(a, b):\n    return a + b  # sum', `the copy button copies the code: ${JSON.stringify(copied)}`);
  await shot(page, '08b-markdown');
  await page.getByRole('button', { name: 'Delete chat Markdown test' }).click();
  await page.getByRole('button', { name: 'Delete?' }).click();
});

await test('hardware and downloads panels', async () => {
  await page.getByRole('button', { name: 'Hardware' }).click();
  const d = page.locator('#hardware-dialog');
  await d.getByRole('heading', { name: 'CPU' }).waitFor({ timeout: 20000 });
  assert((await d.innerText()).match(/\d+ cores/), 'the CPU line names its cores');
  await shot(page, '09-hardware');
  await page.keyboard.press('Escape');
  await page.getByRole('button', { name: 'Downloads' }).click();
  const dl = page.locator('#downloads-dialog');
  await dl.locator('.downloads-panel, [data-testid=downloads-unsupported]').first().waitFor();
  await shot(page, '10-downloads');
  await page.keyboard.press('Escape');
});

await test('narrow 390-px window', async () => {
  const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, deviceScaleFactor: 2, isMobile: true, hasTouch: true });
  await short_answers(phone);
  const p = await phone.newPage();
  watch(p);
  await p.goto(srv.base + '/');
  await p.getByTestId('model-button').waitFor();
  const overflow = await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert(overflow <= 0, `no horizontal scrolling (${overflow}px too wide)`);
  assert(!(await p.locator('#sidebar').isVisible()), 'the chat list is folded away');
  await shot(p, '11-narrow');
  await p.getByRole('button', { name: 'Chats' }).click();
  await p.locator('#sidebar').getByRole('button', { name: '+ New chat' }).waitFor();
  await shot(p, '12-narrow-chats');
  await p.locator('#sidebar').getByRole('button', { name: '+ New chat' }).click();
  const box = p.getByRole('textbox', { name: 'Message', exact: true });
  await box.fill('Hello from a phone');
  await p.getByRole('button', { name: 'Send message' }).tap();
  await p.getByRole('button', { name: 'Send message' }).waitFor({ timeout: 60000 });
  const b = await p.locator('article.msg.assistant').last().boundingBox();
  assert(b && b.x >= 0 && b.x + b.width <= 390, 'the answer fits the width');
  assert((await p.evaluate(() => document.documentElement.scrollWidth - window.innerWidth)) <= 0, 'still no horizontal scrolling');
  await shot(p, '13-narrow-answer');
  await p.getByRole('button', { name: 'Chats' }).tap();
  await p.locator('#sidebar').getByRole('button', { name: 'Chat settings' }).tap();
  const sd = p.locator('#settings-dialog');
  await sd.getByLabel('System prompt').waitFor();
  const db = await sd.boundingBox();
  assert(db && db.x >= 0 && db.x + db.width <= 390, 'the settings dialog fits the width');
  await sd.getByRole('button', { name: 'Close' }).tap();
  await p.getByTestId('model-button').tap();
  await p.locator('#models-dialog').getByTestId('loaded-model').first().waitFor();
  await shot(p, '14-narrow-models');
  await phone.close();
});

await test('keyboard only', async () => {
  const kb = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  await short_answers(kb);
  const p = await kb.newPage();
  watch(p);
  await p.goto(srv.base + '/');
  await p.getByTestId('model-button').waitFor();
  const focused = () => p.evaluate(() => document.activeElement?.getAttribute('aria-label') || document.activeElement?.textContent?.trim() || '');
  // The app moves the focus in a timer or an effect after a key: wait for it (a loaded machine
  // may run the check before the timer).
  const focus_becomes = (want, prefix = false) =>
    p.waitForFunction(([w, pre]) => {
      const el = document.activeElement;
      const name = el?.getAttribute('aria-label') || el?.textContent?.trim() || '';
      return pre ? name.startsWith(w) : name === w;
    }, [want, prefix], { timeout: 5000 }).then(() => true, () => false);
  // Tab reaches the model picker; Enter opens it, Escape closes it and gives the focus back.
  let found = false;
  for (let i = 0; i < 10 && !found; i++) {
    await p.keyboard.press('Tab');
    found = (await focused()).startsWith('Model:');
  }
  assert(found, 'Tab reaches the model picker');
  const ring = await p.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
  assert(ring !== 'none', 'the focused control shows a focus ring');
  await p.keyboard.press('Enter');
  await p.locator('#models-dialog').getByTestId('loaded-model').first().waitFor();
  await p.keyboard.press('Escape');
  // the dialog closes on the next render: wait for it (a loaded machine may check before)
  await p.locator('#models-dialog').waitFor({ state: 'hidden', timeout: 5000 }).catch(() => {});
  assert(!(await p.locator('#models-dialog').isVisible()), 'Escape closes the dialog');
  assert(await focus_becomes('Model:', true), 'the focus is back on the model picker');
  // Ctrl+Shift+O starts a chat with the focus in the message box; Enter sends.
  await p.keyboard.press('Control+Shift+O');
  assert(await focus_becomes('Message'), 'the message box has the focus');
  await p.keyboard.type('Once upon a time');
  await p.keyboard.press('Enter');
  await p.locator('article.msg.assistant').waitFor();
  await p.getByRole('button', { name: 'Send message' }).waitFor({ timeout: 60000 });
  // Tab order reaches the answer's buttons and the chat list.
  const seen = new Set();
  for (let i = 0; i < 30; i++) {
    await p.keyboard.press('Shift+Tab');
    seen.add(await focused());
  }
  assert([...seen].some((s) => s.startsWith('Copy assistant')), `Shift+Tab reaches the answer's copy button (${[...seen].join(' | ')})`);
  assert([...seen].some((s) => s.startsWith('+ New chat')), 'and the new-chat button');
  await shot(p, '15-keyboard');
  await kb.close();
});

await test('API key prompt', async () => {
  const locked = await start_server(['--api-key', 'sesame-123']);
  const kc = await browser.newContext({ viewport: { width: 1024, height: 768 } });
  const p = await kc.newPage();
  watch(p);
  await p.goto(locked.base + '/');
  const d = p.locator('#key-dialog');
  await d.getByLabel('API key').waitFor();
  await shot(p, '16-api-key');
  await d.getByLabel('API key').fill('wrong');
  await d.getByRole('button', { name: 'Save key' }).click();
  await d.getByLabel('API key').waitFor(); // asked again
  await d.getByLabel('API key').fill('sesame-123');
  await d.getByRole('button', { name: 'Save key' }).click();
  await p.getByTestId('model-button').click();
  await p.locator('#models-dialog').getByTestId('library-model').first().waitFor();
  assert(!(await d.isVisible()), 'the key dialog is gone once the key is right');
  assert((await p.evaluate(() => localStorage.getItem('hearth.apiKey'))) === 'sesame-123', 'the key is kept in this browser');
  await kc.close();
  locked.proc.kill('SIGTERM');
  srv.other = locked.origin;
});

await test('no request leaves the server', async () => {
  const allowed = new Set([srv.origin, srv.other].filter(Boolean));
  const foreign = requests.filter((u) => {
    if (u.startsWith('data:') || u.startsWith('blob:')) return false;
    try {
      return !allowed.has(new URL(u).host);
    } catch {
      return true;
    }
  });
  assert(requests.length > 10, `requests were recorded (${requests.length})`);
  assert(foreign.length === 0, `requests to other hosts: ${foreign.join(', ')}`);
});

await browser.close();
stop_servers();

fs.writeFileSync(path.join(artifacts, 'figures.json'), JSON.stringify(figures, null, 2) + '\n');
console.log(`figures: ${JSON.stringify(figures)}`);
console.log(`screenshots: ${artifacts}`);
const passed = results.filter((r) => r[1]).length;
const failed = results.length - passed;
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
