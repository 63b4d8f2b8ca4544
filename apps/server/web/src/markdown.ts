// Model output as Markdown: marked for the structure, highlight.js (a few common languages) for
// code. Model text is untrusted: raw HTML is shown as text, links only go to http(s)/mailto, and
// images become links so that rendering an answer never makes the page fetch anything.
import { Marked, type Tokens } from 'marked';
import hljs from 'highlight.js/lib/core';
import bash from 'highlight.js/lib/languages/bash';
import c from 'highlight.js/lib/languages/c';
import cpp from 'highlight.js/lib/languages/cpp';
import css from 'highlight.js/lib/languages/css';
import go from 'highlight.js/lib/languages/go';
import java from 'highlight.js/lib/languages/java';
import javascript from 'highlight.js/lib/languages/javascript';
import json from 'highlight.js/lib/languages/json';
import markdown from 'highlight.js/lib/languages/markdown';
import python from 'highlight.js/lib/languages/python';
import rust from 'highlight.js/lib/languages/rust';
import sql from 'highlight.js/lib/languages/sql';
import typescript from 'highlight.js/lib/languages/typescript';
import xml from 'highlight.js/lib/languages/xml';
import yaml from 'highlight.js/lib/languages/yaml';

const languages = { bash, c, cpp, css, go, java, javascript, json, markdown, python, rust, sql, typescript, xml, yaml };
for (const [name, lang] of Object.entries(languages)) hljs.registerLanguage(name, lang);
hljs.registerAliases(['sh', 'shell', 'zsh', 'console'], { languageName: 'bash' });
hljs.registerAliases(['html', 'svg'], { languageName: 'xml' });
hljs.registerAliases(['c++', 'cc', 'hpp', 'cxx'], { languageName: 'cpp' });
hljs.registerAliases(['js', 'mjs', 'jsx'], { languageName: 'javascript' });
hljs.registerAliases(['ts', 'tsx'], { languageName: 'typescript' });
hljs.registerAliases(['py'], { languageName: 'python' });
hljs.registerAliases(['rs'], { languageName: 'rust' });
hljs.registerAliases(['yml'], { languageName: 'yaml' });
hljs.registerAliases(['md'], { languageName: 'markdown' });

export function escape_html(s: string): string {
  return s.replace(/[&<>"']/g, (ch) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[ch]!);
}

function safe_href(href: string): string | null {
  const h = href.trim();
  if (/^(https?:|mailto:)/i.test(h)) return h;
  if (/^#[\w-]*$/.test(h)) return h;
  return null;
}

const md = new Marked({
  gfm: true,
  breaks: false,
  renderer: {
    html({ text }: Tokens.HTML | Tokens.Tag) {
      return escape_html(text);
    },
    code({ text, lang }: Tokens.Code) {
      const name = (lang || '').trim().split(/\s+/)[0].toLowerCase();
      let body: string;
      let shown = name;
      if (name && hljs.getLanguage(name)) {
        body = hljs.highlight(text, { language: name, ignoreIllegals: true }).value;
      } else {
        body = escape_html(text);
      }
      if (!shown) shown = 'text';
      return (
        `<div class="code-block"><div class="code-head"><span class="code-lang">${escape_html(shown)}</span>` +
        `<button type="button" class="copy-code" aria-label="Copy code">Copy</button></div>` +
        `<pre><code class="hljs">${body}</code></pre></div>`
      );
    },
    link(this: { parser: { parseInline(t: Tokens.Generic[]): string } }, { href, title, tokens }: Tokens.Link) {
      const text = this.parser.parseInline(tokens);
      const h = safe_href(href);
      if (!h) return text;
      const t = title ? ` title="${escape_html(title)}"` : '';
      return `<a href="${escape_html(h)}"${t} target="_blank" rel="noopener noreferrer">${text}</a>`;
    },
    image({ href, text }: Tokens.Image) {
      const h = safe_href(href);
      const label = escape_html(text || 'image');
      if (!h) return `[${label}]`;
      return `<a href="${escape_html(h)}" target="_blank" rel="noopener noreferrer">[image: ${label}]</a>`;
    },
  },
});

export function render_markdown(text: string): string {
  return md.parse(text, { async: false }) as string;
}
