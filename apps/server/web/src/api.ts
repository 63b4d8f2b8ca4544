// The one module that talks to the server: OpenAI-compatible /v1 endpoints for chat, the native
// /api endpoints (docs/api.md) for the model library, loading, hardware and downloads. Every
// request goes to the page's own origin; nothing else in the UI calls fetch().

export class ApiError extends Error {
  constructor(
    message: string,
    public status: number,
    public code = '',
  ) {
    super(message);
  }
}

export interface LocalModel {
  name: string;
  path: string;
  source?: string;
  size_bytes?: number;
  architecture?: string;
  model_name?: string;
  parameters?: number;
  quantization?: string;
  context_length?: number;
  loaded: boolean;
  error?: string;
}

export interface MemoryUse {
  device: string;
  bytes: number;
}

export interface LoadedModel {
  id: string;
  path?: string;
  architecture?: string;
  n_params?: number;
  n_ctx?: number;
  memory?: MemoryUse[];
  settings?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface Device {
  name: string;
  description?: string;
  kind?: string;
  memory_free_bytes?: number;
  memory_total_bytes?: number;
}

export interface LoadSettings {
  n_ctx?: number;
  n_gpu_layers?: number | 'auto' | 'all';
  device?: string;
  n_threads?: number;
}

// What the offload planner would do for a model (POST /api/plan).
export interface Plan {
  device?: string;
  n_layers?: number;
  n_gpu_layers?: number;
  weights_bytes?: number;
  kv_bytes?: number;
  fits?: boolean;
  summary?: string;
}

export interface ChatMessage {
  role: 'system' | 'user' | 'assistant';
  content: string;
}

export interface Sampling {
  temperature: number;
  top_p: number;
  top_k: number;
  min_p: number;
  repeat_penalty: number;
  max_tokens: number; // 0: no limit
  seed: number | null;
  ignore_eos: boolean; // keep generating past the end-of-text token
}

export interface StreamEvent {
  delta?: string;
  finish_reason?: string;
  usage?: { prompt_tokens: number; completion_tokens: number };
  // The server's own measurement when it sends one (llama.cpp's `timings` shape).
  timings?: { predicted_per_second?: number; predicted_n?: number; prompt_ms?: number };
}

export interface HubResult {
  repo: string;
  downloads?: number;
  likes?: number;
  updated?: string;
}

export interface HubFile {
  name: string;
  quant?: string;
  size_bytes?: number;
}

export interface Download {
  id: string;
  repo: string;
  file?: string;
  state: string; // queued | running | done | failed | cancelled
  bytes_done?: number;
  bytes_total?: number;
  speed_bps?: number;
  error?: string;
}

const KEY_STORAGE = 'hearth.apiKey';

// Parses a text/event-stream body into the JSON payloads of its `data:` lines.
export async function* sse_events(body: ReadableStream<Uint8Array>): AsyncGenerator<unknown> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buf = '';
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      let cut: number;
      while ((cut = buf.search(/\r?\n\r?\n/)) >= 0) {
        const block = buf.slice(0, cut);
        buf = buf.slice(cut).replace(/^\r?\n\r?\n/, '');
        const data = block
          .split(/\r?\n/)
          .filter((l) => l.startsWith('data:'))
          .map((l) => l.slice(5).replace(/^ /, ''))
          .join('\n');
        if (!data) continue; // comments (": queued") and other fields
        if (data === '[DONE]') return;
        yield JSON.parse(data);
      }
    }
  } finally {
    reader.releaseLock();
  }
}

export class Api {
  key: string | null = localStorage.getItem(KEY_STORAGE);
  // Called when the server answers 401: the UI asks for a key, then calls retry().
  on_auth_required: (message: string) => void = () => {};

  set_key(key: string | null) {
    this.key = key || null;
    if (this.key) localStorage.setItem(KEY_STORAGE, this.key);
    else localStorage.removeItem(KEY_STORAGE);
  }

  private headers(json: boolean): Record<string, string> {
    const h: Record<string, string> = {};
    if (json) h['Content-Type'] = 'application/json';
    if (this.key) h['Authorization'] = `Bearer ${this.key}`;
    return h;
  }

  private async fetch_raw(path: string, init: RequestInit = {}): Promise<Response> {
    const res = await fetch(path, {
      ...init,
      headers: { ...this.headers(init.body !== undefined), ...((init.headers as Record<string, string>) || {}) },
    });
    if (!res.ok) {
      let message = `HTTP ${res.status}`;
      let code = '';
      try {
        const j = await res.json();
        message = j?.error?.message || j?.message || message;
        code = j?.error?.code || '';
      } catch {
        /* not JSON */
      }
      if (res.status === 401) this.on_auth_required(message);
      throw new ApiError(message, res.status, code);
    }
    return res;
  }

  private async json<T>(path: string, init: RequestInit = {}): Promise<T> {
    return (await this.fetch_raw(path, init)).json() as Promise<T>;
  }

  private post<T>(path: string, body: unknown): Promise<T> {
    return this.json<T>(path, { method: 'POST', body: JSON.stringify(body) });
  }

  health(): Promise<{ status: string; version?: string }> {
    return this.json('/api/health');
  }

  // The local library (native API); a server without it gets the OpenAI model list instead.
  async local_models(): Promise<LocalModel[]> {
    try {
      return (await this.json<{ models: LocalModel[] }>('/api/models')).models;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
      const j = await this.json<{ data: { id: string }[] }>('/v1/models');
      return j.data.map((m) => ({ name: m.id, path: '', loaded: true }));
    }
  }

  async loaded_models(): Promise<LoadedModel[]> {
    try {
      return (await this.json<{ models: LoadedModel[] }>('/api/ps')).models;
    } catch (e) {
      if (!(e instanceof ApiError) || e.status !== 404) throw e;
      const j = await this.json<{ data: { id: string }[] }>('/v1/models');
      return j.data.map((m) => ({ id: m.id }));
    }
  }

  async load(model: string, settings: LoadSettings): Promise<LoadedModel> {
    return (await this.post<{ model: LoadedModel }>('/api/load', { model, ...settings })).model;
  }

  plan(model: string, settings: LoadSettings): Promise<Plan> {
    return this.post('/api/plan', { model, ...settings });
  }

  unload(model: string): Promise<unknown> {
    return this.post('/api/unload', { model });
  }

  async devices(): Promise<Device[]> {
    return (await this.json<{ devices: Device[] }>('/api/devices')).devices;
  }

  hardware(): Promise<Record<string, unknown>> {
    return this.json('/api/hw');
  }

  doctor(): Promise<{ findings: { id: string; status: string; device?: string; title: string; detail?: string; fix?: Record<string, string> }[] }> {
    return this.json('/api/doctor');
  }

  async hub_search(query: string): Promise<HubResult[]> {
    return (await this.json<{ results: HubResult[] }>(`/api/hub/search?q=${encodeURIComponent(query)}`)).results;
  }

  async hub_files(repo: string): Promise<HubFile[]> {
    return (await this.json<{ files: HubFile[] }>(`/api/hub/files?repo=${encodeURIComponent(repo)}`)).files;
  }

  async downloads(): Promise<Download[]> {
    return (await this.json<{ downloads: Download[] }>('/api/hub/downloads')).downloads;
  }

  start_download(repo: string, file: string): Promise<{ id: string }> {
    return this.post('/api/hub/downloads', { repo, file });
  }

  cancel_download(id: string): Promise<unknown> {
    return this.post(`/api/hub/downloads/${encodeURIComponent(id)}/cancel`, {});
  }

  // One streamed chat completion; aborting `signal` stops the generation on the server too
  // (it notices the closed connection).
  async *chat(model: string, messages: ChatMessage[], s: Sampling, signal: AbortSignal): AsyncGenerator<StreamEvent> {
    const body: Record<string, unknown> = {
      model,
      messages,
      stream: true,
      stream_options: { include_usage: true },
      temperature: s.temperature,
      top_p: s.top_p,
      top_k: s.top_k,
      min_p: s.min_p,
      repeat_penalty: s.repeat_penalty,
    };
    if (s.max_tokens > 0) body.max_tokens = s.max_tokens;
    if (s.seed !== null) body.seed = s.seed;
    if (s.ignore_eos) body.ignore_eos = true;
    const res = await this.fetch_raw('/v1/chat/completions', { method: 'POST', body: JSON.stringify(body), signal });
    if (!res.body) throw new ApiError('the server sent no stream', 500);
    for await (const ev of sse_events(res.body)) {
      const j = ev as {
        error?: { message: string; code?: string };
        choices?: { delta?: { content?: string }; finish_reason?: string | null }[];
        usage?: { prompt_tokens: number; completion_tokens: number } | null;
        timings?: StreamEvent['timings'];
      };
      if (j.error) throw new ApiError(j.error.message, 500, j.error.code || '');
      const c = j.choices?.[0];
      const out: StreamEvent = {};
      if (c?.delta?.content) out.delta = c.delta.content;
      if (c?.finish_reason) out.finish_reason = c.finish_reason;
      if (j.usage) out.usage = j.usage;
      if (j.timings) out.timings = j.timings;
      if (out.delta !== undefined || out.finish_reason || out.usage || out.timings) yield out;
    }
  }
}

export const api = new Api();
