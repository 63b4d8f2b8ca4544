// Hearth's chat window: conversation list, model picker, chat, and the panels around them.
import { render } from 'preact';
import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { api, type ChatMessage } from './api';
import { ChatView } from './chat';
import { DownloadsPanel, HardwarePanel, KeyPanel, ModelsPanel, SettingsPanel } from './panels';
import {
  type Conversation,
  type Message,
  type Theme,
  load_conversations,
  load_pref,
  load_theme,
  new_conversation,
  save_conversations,
  save_default_sampling,
  save_pref,
  save_theme,
  title_from,
} from './store';
import { Dialog, error_text } from './ui';
import './style.css';

type Panel = 'models' | 'settings' | 'hardware' | 'downloads' | null;

function ConversationItem(props: { c: Conversation; active: boolean; on_select: () => void; on_rename: (t: string) => void; on_delete: () => void }) {
  const [renaming, set_renaming] = useState(false);
  const [confirm, set_confirm] = useState(false);
  const [draft, set_draft] = useState(props.c.title);
  if (renaming)
    return (
      <li class="conv active">
        <form
          class="rename"
          onSubmit={(e) => {
            e.preventDefault();
            props.on_rename(draft.trim() || props.c.title);
            set_renaming(false);
          }}
        >
          <input
            aria-label="Chat title"
            value={draft}
            ref={(el) => el?.focus()}
            onInput={(e) => set_draft((e.target as HTMLInputElement).value)}
            onKeyDown={(e) => {
              if (e.key === 'Escape') {
                e.preventDefault();
                e.stopPropagation();
                set_renaming(false);
              }
            }}
          />
        </form>
      </li>
    );
  return (
    <li class={`conv${props.active ? ' active' : ''}`}>
      <button type="button" class="conv-title" aria-current={props.active ? 'true' : undefined} onClick={props.on_select} title={props.c.title}>
        {props.c.title}
      </button>
      {confirm ? (
        <>
          <button type="button" class="small danger" onClick={props.on_delete} ref={(el) => el?.focus()} onBlur={() => setTimeout(() => set_confirm(false), 200)}>
            Delete?
          </button>
        </>
      ) : (
        <>
          <button
            type="button"
            class="small icon"
            aria-label={`Rename chat ${props.c.title}`}
            title="Rename"
            onClick={() => {
              set_draft(props.c.title);
              set_renaming(true);
            }}
          >
            <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
              <path d="M11.5 1.5l3 3L5 14H2v-3z" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round" />
            </svg>
          </button>
          <button type="button" class="small icon" aria-label={`Delete chat ${props.c.title}`} title="Delete" onClick={() => set_confirm(true)}>
            <svg viewBox="0 0 16 16" width="14" height="14" aria-hidden="true">
              <path d="M2.5 4h11M6 4V2.5h4V4M4 4l.8 9.5h6.4L12 4" fill="none" stroke="currentColor" stroke-width="1.4" stroke-linejoin="round" />
            </svg>
          </button>
        </>
      )}
    </li>
  );
}

function App() {
  const [convs, set_convs] = useState<Conversation[]>(() => load_conversations());
  const [active_id, set_active_id] = useState<string>(() => load_pref('active') || '');
  const [model, set_model] = useState<string>(() => load_pref('model') || '');
  const [loaded_ids, set_loaded_ids] = useState<string[]>([]);
  const [theme, set_theme] = useState<Theme>(load_theme);
  const [panel, set_panel] = useState<Panel>(null);
  const [sidebar, set_sidebar] = useState(false);
  const [generating, set_generating] = useState<string | null>(null);
  const [auth, set_auth] = useState<string | null>(null);
  const [server_error, set_server_error] = useState('');
  const [notice, set_notice] = useState('');
  const abort = useRef<AbortController | null>(null);
  const convs_ref = useRef(convs);
  convs_ref.current = convs;

  const active = convs.find((c) => c.id === active_id) || null;
  const chat_model = active?.model || model;

  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    save_theme(theme);
  }, [theme]);
  useEffect(() => save_pref('model', model), [model]);
  useEffect(() => save_pref('active', active_id), [active_id]);

  // Saving is deferred while tokens stream in; at most a few writes a second.
  const save_timer = useRef<ReturnType<typeof setTimeout> | null>(null);
  useEffect(() => {
    if (save_timer.current) return;
    save_timer.current = setTimeout(() => {
      save_timer.current = null;
      const err = save_conversations(convs_ref.current);
      if (err) set_notice(err);
    }, 300);
  }, [convs]);
  useEffect(() => {
    const flush = () => save_conversations(convs_ref.current);
    window.addEventListener('pagehide', flush);
    return () => window.removeEventListener('pagehide', flush);
  }, []);

  const refresh_models = useCallback(async () => {
    try {
      const l = await api.loaded_models();
      const ids = l.map((m) => m.id);
      set_loaded_ids(ids);
      set_server_error('');
      set_model((cur) => (cur && ids.includes(cur) ? cur : ids[0] || cur));
    } catch (e) {
      if (!(e instanceof Error && 'status' in e && (e as { status: number }).status === 401)) set_server_error(error_text(e));
    }
  }, []);

  useEffect(() => {
    api.on_auth_required = (msg) => set_auth(msg);
    refresh_models();
  }, []);

  const update = (id: string, fn: (c: Conversation) => Conversation) => set_convs((list) => list.map((c) => (c.id === id ? fn(c) : c)));

  const new_chat = () => {
    if (active && active.messages.length === 0) {
      document.getElementById('composer-input')?.focus();
      set_sidebar(false);
      return;
    }
    const c = new_conversation('', active);
    set_convs((list) => [c, ...list]);
    set_active_id(c.id);
    set_sidebar(false);
    setTimeout(() => document.getElementById('composer-input')?.focus(), 0);
  };

  // Streams an answer to `history` (which ends with a user message) into conversation `id`.
  const generate = async (id: string, history: Message[]) => {
    const conv = convs_ref.current.find((c) => c.id === id);
    if (!conv) return;
    const use_model = conv.model || model;
    const answer: Message = { role: 'assistant', content: '', stats: {} };
    update(id, (c) => ({ ...c, messages: [...history, answer], updated: Date.now() }));
    if (!use_model) {
      update(id, (c) => ({ ...c, messages: [...history, { ...answer, error: 'No model is selected: choose one in the Models panel.', stats: undefined }] }));
      return;
    }
    const msgs: ChatMessage[] = [];
    if (conv.system.trim()) msgs.push({ role: 'system', content: conv.system });
    for (const m of history) if (!m.error || m.content) msgs.push({ role: m.role, content: m.content });

    const ctl = new AbortController();
    abort.current = ctl;
    set_generating(id);
    const t0 = performance.now();
    let t_first = 0;
    let t_last = 0;
    let n = 0;
    let text = '';
    let finish = '';
    let usage_tokens: number | undefined;
    let server_tok_s: number | undefined;
    // Measured here, tokens/s counts arrivals, which the network may bunch up: the server's own
    // figure wins when it sends one.
    const stats = () => ({
      ttft_ms: t_first ? t_first - t0 : undefined,
      tok_s: server_tok_s ?? (n > 1 && t_last > t_first ? ((n - 1) * 1000) / (t_last - t_first) : undefined),
      n_tokens: usage_tokens ?? (n || undefined),
    });
    const set_answer = (extra: Partial<Message> = {}) =>
      update(id, (c) => {
        const m = c.messages.slice();
        m[m.length - 1] = { role: 'assistant', content: text, stats: stats(), ...extra };
        return { ...c, messages: m, updated: Date.now() };
      });
    // Tokens can come faster than a long answer re-renders (its Markdown is parsed whole): the
    // view follows at most every 50 ms.
    let pending: ReturnType<typeof setTimeout> | null = null;
    const flush_later = () => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = null;
        set_answer();
      }, t_first === t_last ? 0 : 50);
    };
    try {
      for await (const ev of api.chat(use_model, msgs, conv.sampling, ctl.signal)) {
        if (ev.delta) {
          const now = performance.now();
          if (!t_first) t_first = now;
          t_last = now;
          n++;
          text += ev.delta;
          flush_later();
        }
        if (ev.finish_reason) finish = ev.finish_reason;
        if (ev.usage) usage_tokens = ev.usage.completion_tokens;
        if (ev.timings?.predicted_per_second) server_tok_s = ev.timings.predicted_per_second;
      }
      if (pending) clearTimeout(pending);
      set_answer({ stats: { ...stats(), finish: finish || 'stop' } });
    } catch (e) {
      if (pending) clearTimeout(pending);
      if (ctl.signal.aborted) set_answer({ stats: { ...stats(), finish: 'cancelled' } });
      else set_answer({ error: error_text(e), stats: { ...stats(), finish: 'error' } });
    } finally {
      abort.current = null;
      set_generating(null);
      refresh_models();
    }
  };

  const send = (text: string) => {
    let conv = active;
    if (!conv) {
      conv = new_conversation('');
      const c = conv;
      set_convs((list) => [c, ...list]);
      set_active_id(c.id);
      convs_ref.current = [c, ...convs_ref.current];
    }
    const history: Message[] = [...conv.messages, { role: 'user', content: text }];
    if (conv.messages.length === 0 && conv.title === 'New chat') {
      const title = title_from(text);
      update(conv.id, (c) => ({ ...c, title }));
      convs_ref.current = convs_ref.current.map((c) => (c.id === conv!.id ? { ...c, title } : c));
    }
    generate(conv.id, history);
  };

  const stop = () => abort.current?.abort();

  const edit = (index: number, text: string) => {
    if (!active || !text.trim()) return;
    const history = active.messages.slice(0, index);
    history.push({ role: 'user', content: text.trim() });
    generate(active.id, history);
  };

  const regenerate = () => {
    if (!active) return;
    const m = active.messages;
    let end = m.length;
    while (end > 0 && m[end - 1].role === 'assistant') end--;
    if (end === 0) return;
    generate(active.id, m.slice(0, end));
  };

  const delete_chat = (id: string) => {
    if (generating === id) stop();
    set_convs((list) => list.filter((c) => c.id !== id));
    if (id === active_id) set_active_id('');
  };

  // Global keys: Ctrl/Cmd+Shift+O new chat, Ctrl/Cmd+Shift+L focus the message box.
  useEffect(() => {
    const on_key = (e: KeyboardEvent) => {
      if (!(e.ctrlKey || e.metaKey) || !e.shiftKey) return;
      const k = e.key.toLowerCase();
      if (k === 'o') {
        e.preventDefault();
        new_chat();
      } else if (k === 'l') {
        e.preventDefault();
        document.getElementById('composer-input')?.focus();
      }
    };
    window.addEventListener('keydown', on_key);
    return () => window.removeEventListener('keydown', on_key);
  });

  const sorted = convs.slice().sort((a, b) => b.updated - a.updated);

  return (
    <div class={`app${sidebar ? ' sidebar-open' : ''}`}>
      <a class="skip" href="#composer-input">
        Skip to message box
      </a>
      <header class="topbar">
        <button type="button" class="icon menu" aria-label="Chats" aria-expanded={sidebar} aria-controls="sidebar" onClick={() => set_sidebar(!sidebar)}>
          ☰
        </button>
        <h1 class="brand">Hearth</h1>
        <button type="button" class="model-button" onClick={() => set_panel('models')} aria-label={`Model: ${chat_model || 'none'}. Choose a model`} data-testid="model-button">
          <span class={`dot ${chat_model && loaded_ids.includes(chat_model) ? 'on' : ''}`} aria-hidden="true" />
          <span class="model-name">{chat_model || 'Choose a model'}</span>
        </button>
        <nav class="tools" aria-label="Panels">
          <button type="button" onClick={() => set_panel('settings')} disabled={!active} title="System prompt and sampling for this chat">
            Chat settings
          </button>
          <button type="button" onClick={() => set_panel('hardware')}>
            Hardware
          </button>
          <button type="button" onClick={() => set_panel('downloads')}>
            Downloads
          </button>
          <button
            type="button"
            class="icon"
            data-testid="theme-toggle"
            aria-label={theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme'}
            onClick={() => set_theme(theme === 'dark' ? 'light' : 'dark')}
          >
            {theme === 'dark' ? '☀' : '☾'}
          </button>
        </nav>
      </header>

      <aside id="sidebar" class="sidebar" aria-label="Chats">
        <button type="button" class="primary new-chat" onClick={new_chat} title="Ctrl+Shift+O">
          + New chat
        </button>
        <ul class="conv-list">
          {sorted.map((c) => (
            <ConversationItem
              key={c.id}
              c={c}
              active={c.id === active_id}
              on_select={() => {
                set_active_id(c.id);
                set_sidebar(false);
              }}
              on_rename={(title) => update(c.id, (x) => ({ ...x, title }))}
              on_delete={() => delete_chat(c.id)}
            />
          ))}
          {sorted.length === 0 && <li class="muted small-text">Chats you start are kept in this browser.</li>}
        </ul>
        <nav class="side-tools" aria-label="Panels (narrow window)">
          {(['settings', 'hardware', 'downloads'] as const).map((p) => (
            <button
              type="button"
              key={p}
              disabled={p === 'settings' && !active}
              onClick={() => {
                set_sidebar(false);
                set_panel(p);
              }}
            >
              {p === 'settings' ? 'Chat settings' : p === 'hardware' ? 'Hardware' : 'Downloads'}
            </button>
          ))}
        </nav>
      </aside>
      {sidebar && <div class="backdrop" onClick={() => set_sidebar(false)} aria-hidden="true" />}

      <main class="main">
        {server_error && (
          <div class="banner error" role="alert">
            Cannot reach the server: {server_error}
          </div>
        )}
        {notice && (
          <div class="banner" role="status">
            {notice}{' '}
            <button type="button" class="small" onClick={() => set_notice('')}>
              Dismiss
            </button>
          </div>
        )}
        <ChatView
          key={active?.id || 'none'}
          messages={active?.messages || []}
          generating={!!generating && generating === active?.id}
          model={chat_model}
          on_send={send}
          on_stop={stop}
          on_edit={edit}
          on_regenerate={regenerate}
          on_pick_model={() => set_panel('models')}
        />
      </main>

      <Dialog id="models-dialog" title="Models" open={panel === 'models'} on_close={() => set_panel(null)} wide>
        <ModelsPanel
          current={chat_model}
          on_use={(id) => {
            set_model(id);
            if (active && active.model) update(active.id, (c) => ({ ...c, model: '' }));
          }}
          on_changed={refresh_models}
        />
      </Dialog>
      <Dialog id="settings-dialog" title="Chat settings" open={panel === 'settings' && !!active} on_close={() => set_panel(null)}>
        {active && (
          <SettingsPanel
            conv={active}
            models={loaded_ids}
            on_change={(p) => update(active.id, (c) => ({ ...c, ...p }))}
            on_sampling={(p) =>
              update(active.id, (c) => {
                const sampling = { ...c.sampling, ...p };
                save_default_sampling(sampling);
                return { ...c, sampling };
              })
            }
          />
        )}
      </Dialog>
      <Dialog id="hardware-dialog" title="Hardware" open={panel === 'hardware'} on_close={() => set_panel(null)} wide>
        <HardwarePanel />
      </Dialog>
      <Dialog id="downloads-dialog" title="Downloads" open={panel === 'downloads'} on_close={() => set_panel(null)} wide>
        <DownloadsPanel on_done={refresh_models} />
      </Dialog>
      <Dialog id="key-dialog" title="API key needed" open={auth !== null} on_close={() => set_auth(null)}>
        <KeyPanel
          message={auth || ''}
          on_save={(k) => {
            api.set_key(k);
            set_auth(null);
            refresh_models();
          }}
        />
      </Dialog>
    </div>
  );
}

render(<App />, document.getElementById('app')!);
