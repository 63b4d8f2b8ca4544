// Small shared pieces: a modal dialog on the native <dialog> element (focus trap and Escape come
// from the browser), number and size formatting.
import type { ComponentChildren } from 'preact';
import { useEffect, useRef } from 'preact/hooks';

export function Dialog(props: { open: boolean; on_close: () => void; title: string; id: string; wide?: boolean; children: ComponentChildren }) {
  const ref = useRef<HTMLDialogElement>(null);
  const opener = useRef<Element | null>(null);
  // The state decides whether the dialog is open. A close() made here queues a 'close' event that
  // may arrive after the dialog was opened again: it must not be taken for the user's.
  const closing = useRef(0);
  useEffect(() => {
    const d = ref.current!;
    if (props.open && !d.open) {
      opener.current = document.activeElement;
      d.showModal();
    } else if (!props.open && d.open) {
      closing.current++;
      d.close();
    }
    if (!props.open && opener.current instanceof HTMLElement) {
      opener.current.focus();
      opener.current = null;
    }
  }, [props.open]);
  return (
    <dialog ref={ref} id={props.id} class={props.wide ? 'wide' : ''} aria-labelledby={`${props.id}-title`} onCancel={(e) => {
        e.preventDefault();
        props.on_close();
      }}
      onClose={() => {
        if (closing.current > 0) closing.current--;
        else if (props.open) props.on_close(); // closed by the browser itself
      }}
    >
      <div class="dialog-head">
        <h2 id={`${props.id}-title`}>{props.title}</h2>
        <button type="button" class="icon" aria-label="Close" onClick={props.on_close}>
          ✕
        </button>
      </div>
      <div class="dialog-body">{props.open && props.children}</div>
    </dialog>
  );
}

export function fmt_bytes(n?: number | null): string {
  if (n === undefined || n === null || !isFinite(n)) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 && i > 0 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function fmt_count(n?: number | null): string {
  if (n === undefined || n === null || !isFinite(n) || n <= 0) return '—';
  if (n >= 1e9) return `${(n / 1e9).toFixed(n >= 1e10 ? 0 : 1)}B`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(n >= 1e7 ? 0 : 1)}M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(n >= 1e4 ? 0 : 1)}K`;
  return String(n);
}

export async function copy_text(text: string): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    const ta = document.createElement('textarea');
    ta.value = text;
    ta.style.position = 'fixed';
    ta.style.opacity = '0';
    document.body.appendChild(ta);
    ta.select();
    const ok = document.execCommand('copy');
    ta.remove();
    return ok;
  }
}

export function error_text(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
