/**
 * Markdown → safe HTML for `v-html`. `marked` parses (GFM: tables, fenced code, autolinks);
 * raw HTML in the text is shown as text, not markup (an answer that talks about `<div>` must
 * not produce one); and DOMPurify has the last word on everything that reaches the page, so
 * `<script>`, `onerror=`, `javascript:` URLs and the like can never get through.
 *
 * Code blocks get a header with the language and a copy button. The button carries
 * `data-copy`, not an inline handler (CSP forbids those): MarkdownContent.vue listens once on
 * its root. Highlighting is optional (`highlight`): highlight.js is loaded lazily, and a
 * streaming answer is shown unhighlighted so no frame re-highlights the whole text.
 */
import DOMPurify from 'dompurify'
import { Marked, type Tokens } from 'marked'

export type Highlighter = (code: string, lang: string) => string | null

export interface RenderOptions {
  highlight?: Highlighter | null
  /** Label of the copy button (translated by the caller). */
  copyLabel?: string
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

let purifierReady = false
function purifier(): typeof DOMPurify {
  if (!purifierReady) {
    purifierReady = true
    // Links open in a new tab and cannot reach back into this one.
    DOMPurify.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A' && node.hasAttribute('href')) {
        node.setAttribute('target', '_blank')
        node.setAttribute('rel', 'noopener noreferrer nofollow')
      }
    })
  }
  return DOMPurify
}

/** Only these survive as link targets; anything else (javascript:, data:, vbscript:) goes. */
const SAFE_URL = /^(https?:|mailto:|#|\/|\.\/|\.\.\/)/i

function makeParser(options: RenderOptions): Marked {
  const copyLabel = escapeHtml(options.copyLabel ?? 'Copy')
  return new Marked({
    gfm: true,
    breaks: false,
    renderer: {
      html({ text }: Tokens.HTML | Tokens.Tag) {
        return escapeHtml(text)
      },
      code({ text, lang }: Tokens.Code) {
        const language = (lang ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? ''
        const highlighted = language && options.highlight ? options.highlight(text, language) : null
        const body = highlighted ?? escapeHtml(text)
        const langClass = language
          ? ` class="hljs language-${escapeHtml(language)}"`
          : ' class="hljs"'
        return (
          '<div class="code-block">' +
          '<div class="code-head">' +
          `<span class="code-lang">${escapeHtml(language || 'text')}</span>` +
          `<button type="button" class="code-copy" data-copy="">${copyLabel}</button>` +
          '</div>' +
          `<pre><code${langClass}>${body}</code></pre>` +
          '</div>\n'
        )
      },
      link({ href, title, tokens }: Tokens.Link) {
        const text = this.parser.parseInline(tokens)
        if (!SAFE_URL.test(href.trim())) return text
        const titleAttr = title ? ` title="${escapeHtml(title)}"` : ''
        return `<a href="${escapeHtml(href)}"${titleAttr}>${text}</a>`
      },
      image({ href, title, text }: Tokens.Image) {
        // No remote images: they would leak the reader's IP to any host an answer names.
        const label = escapeHtml(text || title || href)
        return SAFE_URL.test(href.trim()) && /^https?:/i.test(href)
          ? `<a href="${escapeHtml(href)}">${label}</a>`
          : label
      },
    },
  })
}

/** Renders Markdown into sanitized HTML. */
export function renderMarkdown(markdown: string, options: RenderOptions = {}): string {
  // A browser DOMPurify cannot work in would get the input back unsanitized: show plain text.
  if (!DOMPurify.isSupported) return `<p>${escapeHtml(markdown).replace(/\n/g, '<br>')}</p>`
  const html = makeParser(options).parse(markdown, { async: false })
  return purifier().sanitize(html, {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ['style', 'form', 'input', 'textarea', 'select', 'iframe', 'img'],
    FORBID_ATTR: ['style'],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:|#|\/|\.\/|\.\.\/)/i,
  })
}
