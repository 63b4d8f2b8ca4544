// The dialogs' contents: models (library, load settings, loaded models), chat settings, hardware,
// downloads and the API key prompt.
import { useEffect, useState } from 'preact/hooks';
import { api, ApiError, type Device, type Download, type HubFile, type HubResult, type LoadedModel, type LocalModel, type LoadSettings, type Plan, type Sampling } from './api';
import type { Conversation } from './store';
import { error_text, fmt_bytes, fmt_count } from './ui';

// ---------------------------------------------------------------------------------------------
// Models

export function ModelsPanel(props: { current: string; on_use: (id: string) => void; on_changed: () => void }) {
  const [local, set_local] = useState<LocalModel[] | null>(null);
  const [loaded, set_loaded] = useState<LoadedModel[]>([]);
  const [devices, set_devices] = useState<Device[]>([]);
  const [error, set_error] = useState('');
  const [picked, set_picked] = useState<LocalModel | null>(null);
  const [settings, set_settings] = useState<{ device: string; gpu_layers: string; n_ctx: string; n_threads: string }>({ device: 'auto', gpu_layers: 'auto', n_ctx: '', n_threads: '' });
  const [loading, set_loading] = useState<{ name: string; started: number } | null>(null);
  const [elapsed, set_elapsed] = useState(0);
  const [plan, set_plan] = useState<Plan | null | 'none'>(null);

  const refresh = async () => {
    try {
      const [l, p] = await Promise.all([api.local_models(), api.loaded_models()]);
      set_local(l);
      set_loaded(p);
      set_error('');
    } catch (e) {
      set_error(error_text(e));
    }
  };
  useEffect(() => {
    refresh();
    api.devices().then(set_devices, () => set_devices([]));
  }, []);
  useEffect(() => {
    if (!loading) return;
    const t = setInterval(() => set_elapsed((performance.now() - loading.started) / 1000), 200);
    return () => clearInterval(t);
  }, [loading]);

  const load_settings = (): LoadSettings => {
    const s: LoadSettings = {};
    if (settings.device && settings.device !== 'auto') s.device = settings.device;
    const gl = settings.gpu_layers.trim();
    s.n_gpu_layers = gl === 'all' ? 'all' : gl === 'auto' || gl === '' ? 'auto' : Number(gl);
    if (settings.n_ctx.trim()) s.n_ctx = Number(settings.n_ctx);
    if (settings.n_threads.trim()) s.n_threads = Number(settings.n_threads);
    return s;
  };

  // The planner's estimate for the picked model and settings, when the server offers one.
  useEffect(() => {
    if (!picked) return;
    let live = true;
    const t = setTimeout(() => {
      api.plan(picked.name, load_settings()).then(
        (p) => live && set_plan(p),
        () => live && set_plan('none'),
      );
    }, 250);
    return () => {
      live = false;
      clearTimeout(t);
    };
  }, [picked, settings.device, settings.n_ctx, settings.gpu_layers]);

  const load = async () => {
    if (!picked) return;
    const s = load_settings();
    set_loading({ name: picked.name, started: performance.now() });
    set_elapsed(0);
    set_error('');
    try {
      const m = await api.load(picked.name, s);
      props.on_use(m.id);
      set_picked(null);
      props.on_changed();
    } catch (e) {
      set_error(`Could not load ${picked.name}: ${error_text(e)}`);
    } finally {
      set_loading(null);
      refresh();
    }
  };

  const unload = async (id: string) => {
    try {
      await api.unload(id);
      props.on_changed();
    } catch (e) {
      set_error(error_text(e));
    }
    refresh();
  };

  const gl_valid = /^(auto|all|\d+)$/.test(settings.gpu_layers.trim() || 'auto');
  const ctx_valid = settings.n_ctx.trim() === '' || /^\d+$/.test(settings.n_ctx.trim());
  const threads_valid = settings.n_threads.trim() === '' || /^\d+$/.test(settings.n_threads.trim());

  return (
    <div class="models-panel">
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      <h3>Loaded</h3>
      {loaded.length === 0 ? (
        <p class="muted">No model is loaded. Pick one from the library below (a chat request also loads the model it names).</p>
      ) : (
        <ul class="loaded-list">
          {loaded.map((m) => {
            const mem = (m.memory || []).reduce((a, b) => a + b.bytes, 0);
            return (
              <li key={m.id} data-testid="loaded-model">
                <div class="grow">
                  <strong>{m.id}</strong>
                  {m.id === props.current && <span class="badge">in use</span>}
                  <div class="muted small-text">
                    {[m.architecture, m.n_ctx ? `${m.n_ctx} ctx` : '', m.memory ? (m.memory || []).map((x) => `${x.device} ${fmt_bytes(x.bytes)}`).join(', ') || fmt_bytes(mem) : '']
                      .filter(Boolean)
                      .join(' · ')}
                  </div>
                </div>
                <button type="button" onClick={() => props.on_use(m.id)} disabled={m.id === props.current}>
                  Use
                </button>
                <button type="button" onClick={() => unload(m.id)}>
                  Unload
                </button>
              </li>
            );
          })}
        </ul>
      )}

      <h3>Library</h3>
      {local === null ? (
        <p class="muted">Reading the library…</p>
      ) : local.length === 0 ? (
        <p class="muted">No models on disk. Get one from the Downloads panel or with `hearth get`.</p>
      ) : (
        <div class="table-wrap">
          <table class="models">
            <thead>
              <tr>
                <th scope="col">Model</th>
                <th scope="col">Arch</th>
                <th scope="col">Quant</th>
                <th scope="col">Params</th>
                <th scope="col">Size</th>
                <th scope="col">Context</th>
                <th scope="col">
                  <span class="sr-only">Actions</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {local.map((m) => (
                <tr key={m.path || m.name} class={picked?.name === m.name ? 'picked' : ''} data-testid="library-model">
                  <th scope="row">
                    <div class="model-name">{m.name}</div>
                    {m.error && <div class="error small-text">{m.error}</div>}
                  </th>
                  <td>{m.architecture || '—'}</td>
                  <td>{m.quantization || '—'}</td>
                  <td>{fmt_count(m.parameters)}</td>
                  <td>{fmt_bytes(m.size_bytes)}</td>
                  <td>{m.context_length ? m.context_length.toLocaleString() : '—'}</td>
                  <td>
                    {m.loaded ? (
                      <span class="badge">loaded</span>
                    ) : (
                      <button
                        type="button"
                        onClick={() => {
                          set_picked(m);
                          set_settings((s) => ({ ...s, n_ctx: '' }));
                        }}
                        aria-label={`Load ${m.name}…`}
                      >
                        Load…
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}

      {picked && (
        <form
          class="load-form"
          aria-label={`Load settings for ${picked.name}`}
          onSubmit={(e) => {
            e.preventDefault();
            if (gl_valid && ctx_valid && threads_valid && !loading) load();
          }}
        >
          <h3>Load {picked.name}</h3>
          <div class="grid">
            <label>
              Device
              <select value={settings.device} onChange={(e) => set_settings({ ...settings, device: (e.target as HTMLSelectElement).value })}>
                <option value="auto">auto (best available)</option>
                <option value="cpu">cpu</option>
                {devices
                  .filter((d) => d.kind !== 'cpu')
                  .map((d) => (
                    <option key={d.name} value={d.name}>
                      {d.name}
                      {d.description ? ` — ${d.description}` : ''}
                      {d.memory_free_bytes ? ` (${fmt_bytes(d.memory_free_bytes)} free)` : ''}
                    </option>
                  ))}
              </select>
            </label>
            <label>
              GPU layers
              <input
                value={settings.gpu_layers}
                aria-invalid={!gl_valid}
                aria-describedby="gl-help"
                onInput={(e) => set_settings({ ...settings, gpu_layers: (e.target as HTMLInputElement).value })}
              />
              <span id="gl-help" class="muted small-text">
                auto = as many as the planner fits, all, or a number
              </span>
            </label>
            <label>
              Context length
              <input
                inputMode="numeric"
                placeholder={picked.context_length ? `model: ${picked.context_length} (default at most 4096)` : 'default'}
                value={settings.n_ctx}
                aria-invalid={!ctx_valid}
                onInput={(e) => set_settings({ ...settings, n_ctx: (e.target as HTMLInputElement).value })}
              />
            </label>
            <label>
              CPU threads
              <input
                inputMode="numeric"
                placeholder="one per physical core"
                value={settings.n_threads}
                aria-invalid={!threads_valid}
                onInput={(e) => set_settings({ ...settings, n_threads: (e.target as HTMLInputElement).value })}
              />
            </label>
          </div>
          <p class="muted small-text" data-testid="plan">
            {plan === null
              ? 'Asking the planner…'
              : plan === 'none'
                ? 'The planner estimate is not available from this server; auto puts every layer that fits on the GPU.'
                : plan.summary ||
                  `Planner: ${plan.n_gpu_layers ?? '?'} of ${plan.n_layers ?? '?'} layers on ${plan.device || 'the GPU'}` +
                    (plan.weights_bytes ? `, ${fmt_bytes(plan.weights_bytes)} of weights` : '') +
                    (plan.kv_bytes ? `, ${fmt_bytes(plan.kv_bytes)} of KV cache` : '') +
                    (plan.fits === false ? ' — does not fit' : '')}
          </p>
          <div class="row">
            <button type="submit" class="primary" disabled={!!loading || !gl_valid || !ctx_valid || !threads_valid}>
              Load
            </button>
            <button type="button" onClick={() => set_picked(null)} disabled={!!loading}>
              Cancel
            </button>
          </div>
        </form>
      )}
      {loading && (
        <div class="loading" role="status" data-testid="load-progress">
          <progress aria-label={`Loading ${loading.name}`} />
          <span>
            Loading {loading.name}… {elapsed.toFixed(1)} s
          </span>
        </div>
      )}
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Chat settings

// Changes are patches merged into the chat's latest state (two quick edits must not undo each other).
export function SettingsPanel(props: {
  conv: Conversation;
  models: string[];
  on_change: (c: Partial<Omit<Conversation, 'sampling'>>) => void;
  on_sampling: (s: Partial<Sampling>) => void;
}) {
  const { conv } = props;
  const s = conv.sampling;
  const num = (name: keyof typeof s, label: string, step: string, min: number, max: number, help: string) => (
    <label>
      {label}
      <input
        type="number"
        aria-label={label}
        step={step}
        min={min}
        max={max}
        value={s[name] === null ? '' : String(s[name])}
        placeholder={name === 'seed' ? 'random' : ''}
        onInput={(e) => {
          const v = (e.target as HTMLInputElement).value;
          if (name === 'seed') {
            props.on_sampling({ seed: v === '' ? null : Math.max(0, Math.floor(Number(v))) });
            return;
          }
          const n = Number(v);
          if (v !== '' && isFinite(n)) props.on_sampling({ [name]: Math.min(max, Math.max(min, n)) });
        }}
      />
      <span class="muted small-text">{help}</span>
    </label>
  );
  return (
    <div class="settings-panel">
      <label>
        Title
        <input value={conv.title} onInput={(e) => props.on_change({ title: (e.target as HTMLInputElement).value })} />
      </label>
      <label>
        Model for this chat
        <select value={conv.model} onChange={(e) => props.on_change({ model: (e.target as HTMLSelectElement).value })}>
          <option value="">the current model</option>
          {props.models.map((m) => (
            <option key={m} value={m}>
              {m}
            </option>
          ))}
        </select>
      </label>
      <label>
        System prompt
        <textarea rows={4} value={conv.system} placeholder="You are a helpful assistant." onInput={(e) => props.on_change({ system: (e.target as HTMLTextAreaElement).value })} />
      </label>
      <div class="grid">
        {num('temperature', 'Temperature', '0.05', 0, 5, '0 = always the likeliest token')}
        {num('top_p', 'Top P', '0.01', 0, 1, 'nucleus sampling')}
        {num('top_k', 'Top K', '1', 0, 1000, '0 = off')}
        {num('min_p', 'Min P', '0.01', 0, 1, 'relative to the best token')}
        {num('repeat_penalty', 'Repeat penalty', '0.05', 0, 5, '1 = off')}
        {num('max_tokens', 'Max tokens', '1', 0, 1 << 20, '0 = until the model stops')}
        {num('seed', 'Seed', '1', 0, 2 ** 53, 'empty = random')}
      </div>
      <label class="check">
        <input type="checkbox" checked={s.ignore_eos} onChange={(e) => props.on_sampling({ ignore_eos: (e.target as HTMLInputElement).checked })} />
        Keep going past the end of text (ignore EOS)
      </label>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Hardware

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export function HardwarePanel() {
  const [hw, set_hw] = useState<Json | null>(null);
  const [doctor, set_doctor] = useState<Json | null>(null);
  const [error, set_error] = useState('');
  const [doctor_note, set_doctor_note] = useState('');
  useEffect(() => {
    api.hardware().then(set_hw, (e) => set_error(error_text(e)));
    api.doctor().then(set_doctor, (e) =>
      set_doctor_note(e instanceof ApiError && e.status === 404 ? 'This server does not report doctor findings (run `hearth doctor`).' : error_text(e)),
    );
  }, []);
  if (error)
    return (
      <div class="error" role="alert">
        {error}
      </div>
    );
  if (!hw) return <p class="muted">Surveying the hardware…</p>;
  const cpu = hw.cpu || {};
  const mem = hw.memory || {};
  const gpus: Json[] = hw.gpus || [];
  return (
    <div class="hw-panel">
      <h3>CPU</h3>
      <p>
        {cpu.model || cpu.vendor || 'unknown'} — {cpu.cores ?? '?'} cores, {cpu.threads ?? '?'} threads
        {cpu.kernels ? `, kernels: ${cpu.kernels}` : ''}
      </p>
      <h3>Memory</h3>
      <p>
        {fmt_bytes(mem.total_bytes)} total, {fmt_bytes(mem.available_bytes)} available
      </p>
      <h3>GPUs</h3>
      {gpus.length === 0 ? (
        <p class="muted">No GPU found.</p>
      ) : (
        <ul>
          {gpus.map((g, i) => (
            <li key={i}>
              <strong>{g.name || 'GPU'}</strong> {g.vendor ? `(${g.vendor})` : ''} {g.pci_address || ''}
              {g.verdict?.summary && <div class="muted small-text">{g.verdict.summary}</div>}
            </li>
          ))}
        </ul>
      )}
      {hw.cpu_verdict?.summary && (
        <>
          <h3>Verdict</h3>
          <p>{hw.cpu_verdict.summary}</p>
        </>
      )}
      <h3>Doctor</h3>
      {doctor ? (
        (doctor.findings || []).length === 0 ? (
          <p>No problems found.</p>
        ) : (
          <ul class="findings">
            {(doctor.findings as Json[]).map((f, i) => (
              <li key={i} class={`finding ${String(f.status).toLowerCase()}`}>
                <strong>
                  [{f.status}] {f.title}
                </strong>
                {f.detail && <div class="small-text">{f.detail}</div>}
                {(f.fix?.any || f.fix?.debian) && <code class="small-text">{f.fix.any || f.fix.debian}</code>}
              </li>
            ))}
          </ul>
        )
      ) : (
        <p class="muted">{doctor_note || 'Checking…'}</p>
      )}
      <details>
        <summary>Full survey (JSON)</summary>
        <pre class="json">{JSON.stringify(hw, null, 2)}</pre>
      </details>
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// Downloads

export function DownloadsPanel(props: { on_done: () => void }) {
  const [query, set_query] = useState('');
  const [results, set_results] = useState<HubResult[] | null>(null);
  const [repo, set_repo] = useState('');
  const [files, set_files] = useState<HubFile[] | null>(null);
  const [downloads, set_downloads] = useState<Download[]>([]);
  const [error, set_error] = useState('');
  const [unsupported, set_unsupported] = useState(false);

  const fail = (e: unknown) => {
    if (e instanceof ApiError && e.status === 404) set_unsupported(true);
    else set_error(error_text(e));
  };

  useEffect(() => {
    let done_before = -1;
    const poll = async () => {
      try {
        const d = await api.downloads();
        set_downloads(d);
        const done = d.filter((x) => x.state === 'done').length;
        if (done_before >= 0 && done > done_before) props.on_done();
        done_before = done;
      } catch (e) {
        fail(e);
        return false;
      }
      return true;
    };
    let t: ReturnType<typeof setInterval> | undefined;
    poll().then((ok) => {
      if (ok) t = setInterval(poll, 1000);
    });
    return () => t && clearInterval(t);
  }, []);

  if (unsupported)
    return (
      <p class="muted" data-testid="downloads-unsupported">
        This server has no download API. Download models on the command line: <code>hearth get REPO:QUANT</code>.
      </p>
    );

  return (
    <div class="downloads-panel">
      {error && (
        <div class="error" role="alert">
          {error}
        </div>
      )}
      <form
        class="row"
        role="search"
        onSubmit={async (e) => {
          e.preventDefault();
          set_error('');
          set_files(null);
          set_repo('');
          try {
            set_results(await api.hub_search(query));
          } catch (err) {
            fail(err);
          }
        }}
      >
        <input class="grow" aria-label="Search Hugging Face for GGUF models" placeholder="Search models (e.g. qwen2.5 0.5b)" value={query} onInput={(e) => set_query((e.target as HTMLInputElement).value)} />
        <button type="submit" class="primary">
          Search
        </button>
      </form>
      {results && !repo && (
        <ul class="results">
          {results.length === 0 && <li class="muted">Nothing found.</li>}
          {results.map((r) => (
            <li key={r.repo}>
              <button
                type="button"
                class="link"
                onClick={async () => {
                  set_repo(r.repo);
                  set_files(null);
                  try {
                    set_files(await api.hub_files(r.repo));
                  } catch (err) {
                    fail(err);
                  }
                }}
              >
                {r.repo}
              </button>
              <span class="muted small-text"> {r.downloads !== undefined ? `${fmt_count(r.downloads)} downloads` : ''}</span>
            </li>
          ))}
        </ul>
      )}
      {repo && (
        <div>
          <h3>
            {repo}{' '}
            <button type="button" class="small" onClick={() => set_repo('')}>
              Back
            </button>
          </h3>
          {!files ? (
            <p class="muted">Listing files…</p>
          ) : (
            <ul class="results">
              {files.map((f) => (
                <li key={f.name}>
                  <span class="grow">
                    {f.quant || f.name} <span class="muted small-text">{fmt_bytes(f.size_bytes)}</span>
                  </span>
                  <button
                    type="button"
                    onClick={() =>
                      api.start_download(repo, f.name).then(
                        () => api.downloads().then(set_downloads),
                        fail,
                      )
                    }
                  >
                    Download
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      <h3>Downloads</h3>
      {downloads.length === 0 ? (
        <p class="muted">None yet.</p>
      ) : (
        <ul class="downloads">
          {downloads.map((d) => (
            <li key={d.id}>
              <div class="grow">
                <div>
                  {d.repo} {d.file && <span class="muted">{d.file}</span>} — {d.state}
                </div>
                {d.bytes_total ? <progress max={d.bytes_total} value={d.bytes_done || 0} aria-label={`Progress of ${d.file || d.repo}`} /> : null}
                <div class="muted small-text">
                  {fmt_bytes(d.bytes_done)} / {fmt_bytes(d.bytes_total)}
                  {d.speed_bps ? ` · ${fmt_bytes(d.speed_bps)}/s` : ''}
                  {d.error ? ` · ${d.error}` : ''}
                </div>
              </div>
              {(d.state === 'running' || d.state === 'queued') && (
                <button type="button" onClick={() => api.cancel_download(d.id).catch(fail)}>
                  Cancel
                </button>
              )}
            </li>
          ))}
        </ul>
      )}
    </div>
  );
}

// ---------------------------------------------------------------------------------------------
// API key

export function KeyPanel(props: { message: string; on_save: (key: string) => void }) {
  const [key, set_key] = useState('');
  return (
    <form
      class="key-panel"
      onSubmit={(e) => {
        e.preventDefault();
        if (key.trim()) props.on_save(key.trim());
      }}
    >
      <p>This server needs an API key{props.message ? ` (${props.message})` : ''}. It is kept in this browser only.</p>
      <label>
        API key
        <input type="password" autoComplete="current-password" value={key} onInput={(e) => set_key((e.target as HTMLInputElement).value)} ref={(el) => el?.focus()} />
      </label>
      <div class="row">
        <button type="submit" class="primary" disabled={!key.trim()}>
          Save key
        </button>
      </div>
    </form>
  );
}
