// Conversations and preferences, kept in the browser's localStorage so they survive reloads.
import type { ChatMessage, Sampling } from './api';

export interface AnswerStats {
  ttft_ms?: number; // request sent -> first token shown
  tok_s?: number; // generated tokens per second after the first token
  n_tokens?: number;
  finish?: string; // stop | length | cancelled | error
}

export interface Message extends ChatMessage {
  stats?: AnswerStats;
  error?: string;
}

export interface Conversation {
  id: string;
  title: string;
  created: number;
  updated: number;
  model: string; // "" = the default model
  system: string;
  sampling: Sampling;
  messages: Message[];
}

export const default_sampling = (): Sampling => ({
  temperature: 0.8,
  top_p: 0.95,
  top_k: 40,
  min_p: 0.05,
  repeat_penalty: 1.0,
  max_tokens: 0,
  seed: null,
  ignore_eos: false,
});

const CONV_KEY = 'hearth.conversations.v1';

export function new_id(): string {
  return Date.now().toString(36) + Math.random().toString(36).slice(2, 8);
}

// Sampling for new chats: the last settings changed in any chat.
export function load_default_sampling(): Sampling {
  try {
    return { ...default_sampling(), ...JSON.parse(localStorage.getItem('hearth.sampling') || '{}') };
  } catch {
    return default_sampling();
  }
}

export function save_default_sampling(s: Sampling) {
  localStorage.setItem('hearth.sampling', JSON.stringify(s));
}

// A new chat starts with the system prompt and sampling of `like` (the chat open before it).
export function new_conversation(model: string, like?: Conversation | null): Conversation {
  const now = Date.now();
  return {
    id: new_id(),
    title: 'New chat',
    created: now,
    updated: now,
    model,
    system: like?.system ?? '',
    sampling: like ? { ...like.sampling } : load_default_sampling(),
    messages: [],
  };
}

export function load_conversations(): Conversation[] {
  try {
    const raw = localStorage.getItem(CONV_KEY);
    if (!raw) return [];
    const list = JSON.parse(raw) as Conversation[];
    if (!Array.isArray(list)) return [];
    return list
      .filter((c) => c && typeof c.id === 'string' && Array.isArray(c.messages))
      .map((c) => ({ ...new_conversation(''), ...c, sampling: { ...default_sampling(), ...(c.sampling || {}) } }));
  } catch {
    return [];
  }
}

export function save_conversations(list: Conversation[]): string | null {
  try {
    localStorage.setItem(CONV_KEY, JSON.stringify(list));
    return null;
  } catch (e) {
    return `conversations could not be saved: ${(e as Error).message}`;
  }
}

// A title from the first user message: its first line, shortened.
export function title_from(text: string): string {
  const line = text.trim().split('\n')[0].trim();
  return line.length > 48 ? line.slice(0, 47) + '…' : line || 'New chat';
}

export type Theme = 'light' | 'dark';

export function load_theme(): Theme {
  const t = localStorage.getItem('hearth.theme');
  if (t === 'light' || t === 'dark') return t;
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
}

export function save_theme(t: Theme) {
  localStorage.setItem('hearth.theme', t);
}

export function load_pref(name: string): string | null {
  return localStorage.getItem(`hearth.${name}`);
}

export function save_pref(name: string, value: string) {
  localStorage.setItem(`hearth.${name}`, value);
}
