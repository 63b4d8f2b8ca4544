// The conversation view: messages (Markdown, copy, edit-and-resend, regenerate, per-answer
// timing) and the composer (Enter sends, Shift+Enter breaks the line, Escape stops).
import { useEffect, useLayoutEffect, useMemo, useRef, useState } from 'preact/hooks';
import { render_markdown } from './markdown';
import type { AnswerStats, Message } from './store';
import { copy_text } from './ui';

function Stats({ s, live }: { s?: AnswerStats; live: boolean }) {
  if (!s) return null;
  const parts: string[] = [];
  if (s.ttft_ms !== undefined) parts.push(`TTFT ${Math.round(s.ttft_ms)} ms`);
  if (s.tok_s !== undefined && isFinite(s.tok_s)) parts.push(`${s.tok_s.toFixed(1)} tok/s`);
  if (s.n_tokens !== undefined) parts.push(`${s.n_tokens} tokens`);
  if (!live && s.finish === 'length') parts.push('stopped: length limit');
  if (!live && s.finish === 'cancelled') parts.push('stopped by you');
  if (parts.length === 0 && live) parts.push('waiting for the first token…');
  return (
    <div class="stats" data-testid="answer-stats" aria-live={live ? 'off' : undefined}>
      {parts.join(' · ')}
    </div>
  );
}

function MessageView(props: {
  m: Message;
  index: number;
  live: boolean;
  busy: boolean;
  is_last_answer: boolean;
  on_edit: (index: number, text: string) => void;
  on_regenerate: () => void;
}) {
  const { m } = props;
  const [editing, set_editing] = useState(false);
  const [draft, set_draft] = useState(m.content);
  const [copied, set_copied] = useState(false);
  const html = useMemo(() => (m.role === 'assistant' ? render_markdown(m.content) : ''), [m.content, m.role]);
  const label = m.role === 'user' ? 'You' : m.role === 'assistant' ? 'Assistant' : 'System';

  const copy = async () => {
    if (await copy_text(m.content)) {
      set_copied(true);
      setTimeout(() => set_copied(false), 1200);
    }
  };

  return (
    <article class={`msg ${m.role}${props.live ? ' live' : ''}`} data-role={m.role} aria-label={`${label} message`}>
      <div class="msg-head">
        <span class="who">{label}</span>
        <div class="msg-actions">
          {!editing && (
            <button type="button" class="small" onClick={copy} aria-label={`Copy ${label.toLowerCase()} message`}>
              {copied ? 'Copied' : 'Copy'}
            </button>
          )}
          {m.role === 'user' && !editing && !props.busy && (
            <button
              type="button"
              class="small"
              onClick={() => {
                set_draft(m.content);
                set_editing(true);
              }}
            >
              Edit
            </button>
          )}
          {props.is_last_answer && !props.busy && (
            <button type="button" class="small" onClick={props.on_regenerate}>
              Regenerate
            </button>
          )}
        </div>
      </div>
      {editing ? (
        <form
          class="edit"
          onSubmit={(e) => {
            e.preventDefault();
            set_editing(false);
            props.on_edit(props.index, draft);
          }}
        >
          <textarea
            aria-label="Edit message"
            value={draft}
            rows={Math.min(12, Math.max(3, draft.split('\n').length))}
            onInput={(e) => set_draft((e.target as HTMLTextAreaElement).value)}
            onKeyDown={(e) => {
              if (e.key === 'Escape') {
                e.preventDefault();
                set_editing(false);
              }
              if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
                e.preventDefault();
                set_editing(false);
                props.on_edit(props.index, draft);
              }
            }}
            ref={(el) => {
              el?.focus();
            }}
          />
          <div class="row">
            <button type="submit" class="primary">
              Save &amp; send
            </button>
            <button type="button" onClick={() => set_editing(false)}>
              Cancel
            </button>
          </div>
        </form>
      ) : m.role === 'assistant' ? (
        <div class="content markdown" dangerouslySetInnerHTML={{ __html: html }} />
      ) : (
        <div class="content plain">{m.content}</div>
      )}
      {m.error && (
        <div class="error" role="alert">
          {m.error}
        </div>
      )}
      {m.role === 'assistant' && <Stats s={m.stats} live={props.live} />}
    </article>
  );
}

export function ChatView(props: {
  messages: Message[];
  generating: boolean;
  model: string;
  on_send: (text: string) => void;
  on_stop: () => void;
  on_edit: (index: number, text: string) => void;
  on_regenerate: () => void;
  on_pick_model: () => void;
}) {
  const [text, set_text] = useState('');
  const list = useRef<HTMLDivElement>(null);
  const input = useRef<HTMLTextAreaElement>(null);
  const stick = useRef(true);

  useLayoutEffect(() => {
    const el = list.current;
    if (el && stick.current) el.scrollTop = el.scrollHeight;
  });
  useEffect(() => {
    if (!props.generating) input.current?.focus();
  }, [props.generating]);

  const send = () => {
    const t = text.trim();
    if (!t || props.generating) return;
    props.on_send(t);
    set_text('');
    stick.current = true;
  };

  // Copy buttons of code blocks live inside rendered Markdown: one delegated listener.
  const on_click = async (e: MouseEvent) => {
    const btn = (e.target as HTMLElement).closest('.copy-code') as HTMLButtonElement | null;
    if (!btn) return;
    const code = btn.closest('.code-block')?.querySelector('code')?.textContent ?? '';
    if (await copy_text(code)) {
      btn.textContent = 'Copied';
      setTimeout(() => (btn.textContent = 'Copy'), 1200);
    }
  };

  const last_answer = props.messages.length - 1;
  return (
    <section class="chat" aria-label="Conversation">
      <div
        class="messages"
        ref={list}
        onScroll={(e) => {
          const el = e.target as HTMLDivElement;
          stick.current = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
        }}
        onClick={on_click}
        aria-live="polite"
        aria-busy={props.generating}
      >
        {props.messages.length === 0 && (
          <div class="empty">
            <h2>Start a conversation</h2>
            <p>
              {props.model ? (
                <>
                  Chatting with <strong>{props.model}</strong>.
                </>
              ) : (
                <>No model is selected yet.</>
              )}{' '}
              <button type="button" class="link" onClick={props.on_pick_model}>
                Choose a model
              </button>
            </p>
          </div>
        )}
        {props.messages.map((m, i) => (
          <MessageView
            key={i}
            m={m}
            index={i}
            live={props.generating && i === last_answer && m.role === 'assistant'}
            busy={props.generating}
            is_last_answer={i === last_answer && m.role === 'assistant'}
            on_edit={props.on_edit}
            on_regenerate={props.on_regenerate}
          />
        ))}
      </div>
      <form
        class="composer"
        onSubmit={(e) => {
          e.preventDefault();
          send();
        }}
      >
        <textarea
          ref={input}
          id="composer-input"
          aria-label="Message"
          placeholder={props.model ? 'Message (Enter sends, Shift+Enter starts a new line)' : 'Choose a model first, then type here'}
          rows={Math.min(8, Math.max(2, text.split('\n').length))}
          value={text}
          onInput={(e) => set_text((e.target as HTMLTextAreaElement).value)}
          onKeyDown={(e) => {
            if (e.key === 'Enter' && !e.shiftKey && !e.isComposing) {
              e.preventDefault();
              send();
            } else if (e.key === 'Escape' && props.generating) {
              e.preventDefault();
              props.on_stop();
            }
          }}
        />
        {props.generating ? (
          <button type="button" class="stop" onClick={props.on_stop} aria-label="Stop generating">
            Stop
          </button>
        ) : (
          <button type="submit" class="primary send" disabled={!text.trim()} aria-label="Send message">
            Send
          </button>
        )}
      </form>
    </section>
  );
}
