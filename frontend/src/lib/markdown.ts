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
 *
 * Written as assistants write it:
 * - Table columns keep their alignment (`:---:`, `---:`): marked's `align` attribute is not
 *   one DOMPurify keeps, so cells get an `align-*` class instead.
 * - Math (`$…$`, `$$…$$`, `\(…\)`, `\[…\]`; never in code, never "$5 and $10") becomes a
 *   placeholder showing its source. With a `math` renderer (KaTeX, lazily loaded by the
 *   caller) the placeholder is filled AFTER sanitizing, with KaTeX's output sanitized on its
 *   own by a MathML-aware DOMPurify configuration.
 * - ```mermaid blocks stay code blocks (the copy button copies the source); with a drawn
 *   `diagram` (mermaid, lazily loaded by the caller, which sanitizes its SVG in strict mode)
 *   the block shows the SVG, with a Code/Diagram toggle, or a short error above the code.
 */
import DOMPurify, { type Config } from 'dompurify'
import { Marked, type TokenizerAndRendererExtension, type Tokens } from 'marked'

export type Highlighter = (code: string, lang: string) => string | null

/** TeX → HTML (KaTeX's `renderToString`), or null when it cannot render at all. */
export type MathRenderer = (tex: string, display: boolean) => string | null

/** A ```mermaid block once drawn: the SVG, or why it could not be drawn. */
export type Diagram = { svg: string } | { error: string }

export interface MarkdownLabels {
  /** The copy button of a code block. */
  copy: string
  /** The toggle of a drawn diagram, showing its source. */
  showCode: string
  /** The same toggle while the source is shown. */
  showDiagram: string
  /** Before the error of a diagram that could not be drawn. */
  diagramFailed: string
}

export interface RenderOptions {
  highlight?: Highlighter | null
  /** Texts of the controls (translated by the caller); English by default. */
  labels?: Partial<MarkdownLabels>
  /** Renders math; without it formulas show as their source. */
  math?: MathRenderer | null
  /** The drawn diagram of a ```mermaid source, or null (not drawn, or not to be drawn yet). */
  diagram?: ((source: string) => Diagram | null) | null
  /** Indices (in order of appearance) of the drawn diagrams the reader switched to code. */
  showCode?: ReadonlySet<number>
}

export interface Rendered {
  html: string
  /** Whether the text has math (the caller loads KaTeX then). */
  hasMath: boolean
  /** The sources of the ```mermaid blocks, in order (index = `data-diagram-toggle`). */
  diagrams: string[]
}

const DEFAULT_LABELS: MarkdownLabels = {
  copy: 'Copy',
  showCode: 'Code',
  showDiagram: 'Diagram',
  diagramFailed: 'The diagram could not be drawn:',
}

function escapeHtml(text: string): string {
  return text
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;')
}

/** Only these survive as link targets; anything else (javascript:, data:, vbscript:) goes. */
const SAFE_URL = /^(https?:|mailto:|#|\/|\.\/|\.\.\/)/i
/**
 * What DOMPurify lets through in attribute values that are not plain text to it: http(s) and
 * mailto URLs, or a value with no scheme at all (its own default, less the other schemes).
 * Values such as `button`, `3` (`<ol start>`), `application/x-tex` or an SVG `viewBox` must
 * pass: a tighter "URLs only" pattern silently dropped every one of them.
 */
const SAFE_URI_REGEXP = /^(?:(?:https?|mailto):|[^a-z]|[a-z+.-]+(?:[^a-z+.\-:]|$))/i

/** The Markdown itself: HTML profile, no styles, images, forms or frames. */
const MARKDOWN_CONFIG: Config = {
  USE_PROFILES: { html: true },
  FORBID_TAGS: ['style', 'form', 'input', 'textarea', 'select', 'iframe', 'img'],
  FORBID_ATTR: ['style'],
  ALLOWED_URI_REGEXP: SAFE_URI_REGEXP,
}

/**
 * KaTeX's output: HTML with inline styles (its layout), MathML (with the TeX annotation that
 * screen readers and copy use) and SVG (stretchy symbols, roots). Still no links, images,
 * frames or style sheets; KaTeX itself runs with `trust: false`, so `\href`, `\url` and
 * `\includegraphics` only ever produce error text.
 */
const MATH_CONFIG: Config = {
  USE_PROFILES: { html: true, mathMl: true, svg: true },
  ADD_TAGS: ['semantics', 'annotation'],
  FORBID_TAGS: [
    'a',
    'style',
    'form',
    'input',
    'textarea',
    'select',
    'iframe',
    'img',
    'image',
    'use',
    'foreignobject',
  ],
  ALLOWED_URI_REGEXP: SAFE_URI_REGEXP,
}

/**
 * A DOMPurify of our own: mermaid adds hooks to the shared default instance, and our link
 * hook has no business in its sanitizing either.
 */
let purifierInstance: ReturnType<typeof DOMPurify> | null = null
function purifier(): ReturnType<typeof DOMPurify> {
  if (!purifierInstance) {
    purifierInstance = DOMPurify(window)
    // Links open in a new tab and cannot reach back into this one.
    purifierInstance.addHook('afterSanitizeAttributes', (node) => {
      if (node.tagName === 'A' && node.hasAttribute('href')) {
        node.setAttribute('target', '_blank')
        node.setAttribute('rel', 'noopener noreferrer nofollow')
      }
    })
  }
  return purifierInstance
}

// --- Math ------------------------------------------------------------------------------------

interface MathToken {
  /** The extension's name: `mathBlock` or `mathInline`. */
  type: string
  raw: string
  text: string
  display: boolean
}

/**
 * Inline math, tried in order at a candidate position. `$…$` follows Pandoc's rule so prices
 * stay text: no space after the opening `$` nor before the closing one, which is not followed
 * by a digit; no line break inside; `\$` is a dollar sign.
 */
const INLINE_MATH: readonly [RegExp, boolean][] = [
  [/^\$\$(?!\$)((?:\\[\s\S]|[^\\$])+?)\$\$/, true],
  [/^\\\[([\s\S]+?)\\\]/, true],
  [/^\\\(([\s\S]+?)\\\)/, false],
  [/^\$(?![\s$])((?:\\[^\n]|[^\\$\n])+?)(?<!\s)\$(?!\d)/, false],
]

/** Display math alone on its line(s): `$$…$$` or `\[…\]`, up to three spaces of indent. */
const BLOCK_MATH: readonly RegExp[] = [
  /^ {0,3}\$\$((?:\\[\s\S]|[^\\$])+?)\$\$[ \t]*(?:\n+|$)/,
  /^ {0,3}\\\[([\s\S]+?)\\\][ \t]*(?:\n+|$)/,
]

function mathToken(
  type: string,
  raw: string,
  tex: string | undefined,
  display: boolean,
): MathToken | undefined {
  const text = (tex ?? '').trim()
  return text ? { type, raw, text, display } : undefined
}

/** The placeholder of a formula: its source as written, and the TeX for the renderer. */
function mathPlaceholder(token: MathToken, block: boolean): string {
  const tag = block ? 'div' : 'span'
  const kind = token.display ? 'math-display' : 'math-inline'
  const display = token.display ? ' data-display=""' : ''
  return `<${tag} class="math ${kind}" data-tex="${escapeHtml(token.text)}"${display}>${escapeHtml(
    token.raw.trim(),
  )}</${tag}>${block ? '\n' : ''}`
}

function mathExtensions(found: { math: boolean }): TokenizerAndRendererExtension[] {
  return [
    {
      name: 'mathBlock',
      level: 'block',
      start: (src) => src.match(/^ {0,3}(?:\$\$|\\\[)/m)?.index,
      tokenizer(src) {
        for (const pattern of BLOCK_MATH) {
          const match = pattern.exec(src)
          if (match) return mathToken('mathBlock', match[0], match[1], true)
        }
        return undefined
      },
      renderer(token) {
        found.math = true
        return mathPlaceholder(token as unknown as MathToken, true)
      },
    },
    {
      name: 'mathInline',
      level: 'inline',
      start: (src) => src.match(/(?<!\\)\$|\\[([]/)?.index,
      tokenizer(src) {
        for (const [pattern, display] of INLINE_MATH) {
          const match = pattern.exec(src)
          if (match) return mathToken('mathInline', match[0], match[1], display)
        }
        return undefined
      },
      renderer(token) {
        found.math = true
        return mathPlaceholder(token as unknown as MathToken, false)
      },
    },
  ]
}

/** Sanitized KaTeX output per renderer and formula: a streaming answer re-renders often. */
const mathCache = new WeakMap<MathRenderer, Map<string, string | null>>()
const MATH_CACHE_SIZE = 500

function renderedMath(math: MathRenderer, tex: string, display: boolean): string | null {
  let cache = mathCache.get(math)
  if (!cache) mathCache.set(math, (cache = new Map()))
  const key = `${display ? 'D' : 'I'}${tex}`
  if (cache.has(key)) return cache.get(key) ?? null
  let html: string | null
  try {
    const out = math(tex, display)
    html = out === null ? null : purifier().sanitize(out, MATH_CONFIG)
  } catch {
    html = null // the source stays visible
  }
  if (cache.size >= MATH_CACHE_SIZE) cache.clear()
  cache.set(key, html)
  return html
}

// --- Code and diagrams -----------------------------------------------------------------------

interface ParseState {
  math: boolean
  diagrams: string[]
  /** The SVG of each diagram drawn in this rendering, by index. */
  svgs: Map<number, string>
}

function codeLanguage(lang: string | undefined): string {
  return (lang ?? '').trim().split(/\s+/)[0]?.toLowerCase() ?? ''
}

/** The first line of an error, short enough for a note under a diagram's header. */
function shortError(error: string): string {
  const line = error.split('\n').find((l) => l.trim()) ?? ''
  return line.length > 160 ? `${line.slice(0, 157)}…` : line
}

function makeParser(options: RenderOptions, state: ParseState): Marked {
  const labels = { ...DEFAULT_LABELS, ...options.labels }
  const copyButton = `<button type="button" class="code-copy" data-copy="">${escapeHtml(
    labels.copy,
  )}</button>`

  function codeBody(text: string, language: string): string {
    const highlighted = language && options.highlight ? options.highlight(text, language) : null
    const body = highlighted ?? escapeHtml(text)
    const langClass = language ? ` class="hljs language-${escapeHtml(language)}"` : ' class="hljs"'
    return `<pre><code${langClass}>${body}</code></pre>`
  }

  function diagramBlock(text: string): string {
    const index = state.diagrams.push(text) - 1
    const drawn = options.diagram?.(text) ?? null
    const svg = drawn && 'svg' in drawn ? drawn.svg : null
    const showCode = svg === null || (options.showCode?.has(index) ?? false)
    let toggle = ''
    let figure = ''
    let error = ''
    if (svg !== null) {
      state.svgs.set(index, svg)
      toggle =
        `<button type="button" class="code-toggle" data-diagram-toggle="${index}">` +
        `${escapeHtml(showCode ? labels.showDiagram : labels.showCode)}</button>`
      figure = `<div class="diagram" data-diagram="${index}"></div>`
    } else if (drawn && 'error' in drawn) {
      error =
        `<p class="diagram-error"><strong>${escapeHtml(labels.diagramFailed)}</strong> ` +
        `<span>${escapeHtml(shortError(drawn.error))}</span></p>`
    }
    return (
      `<div class="code-block diagram-block ${showCode ? 'shows-code' : 'shows-diagram'}">` +
      '<div class="code-head">' +
      '<span class="code-lang">mermaid</span>' +
      `<span class="code-actions">${toggle}${copyButton}</span>` +
      '</div>' +
      error +
      figure +
      codeBody(text, '') +
      '</div>\n'
    )
  }

  return new Marked({
    gfm: true,
    breaks: false,
    extensions: mathExtensions(state),
    renderer: {
      html({ text }: Tokens.HTML | Tokens.Tag) {
        return escapeHtml(text)
      },
      code({ text, lang }: Tokens.Code) {
        const language = codeLanguage(lang)
        if (language === 'mermaid') return diagramBlock(text)
        return (
          '<div class="code-block">' +
          '<div class="code-head">' +
          `<span class="code-lang">${escapeHtml(language || 'text')}</span>` +
          `<span class="code-actions">${copyButton}</span>` +
          '</div>' +
          codeBody(text, language) +
          '</div>\n'
        )
      },
      tablecell(token: Tokens.TableCell) {
        const tag = token.header ? 'th' : 'td'
        const align = token.align ? ` class="align-${token.align}"` : ''
        return `<${tag}${align}>${this.parser.parseInline(token.tokens)}</${tag}>\n`
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

/**
 * Fills the placeholders of the sanitized HTML: formulas with (separately sanitized) KaTeX
 * output, diagrams with mermaid's SVG. Done in an inert <template>, so nothing loads or runs.
 */
function fillPlaceholders(html: string, math: MathRenderer | null, svgs: Map<number, string>) {
  const template = document.createElement('template')
  template.innerHTML = html
  if (math) {
    for (const el of template.content.querySelectorAll<HTMLElement>('[data-tex]')) {
      const rendered = renderedMath(math, el.dataset.tex ?? '', el.hasAttribute('data-display'))
      if (rendered === null) continue
      el.innerHTML = rendered
      el.removeAttribute('data-tex')
      el.removeAttribute('data-display')
    }
  }
  for (const el of template.content.querySelectorAll<HTMLElement>('[data-diagram]')) {
    el.innerHTML = svgs.get(Number(el.dataset.diagram)) ?? ''
  }
  return template.innerHTML
}

/** Renders Markdown into sanitized HTML, and says what it found (math, diagrams). */
export function render(markdown: string, options: RenderOptions = {}): Rendered {
  // A browser DOMPurify cannot work in would get the input back unsanitized: show plain text.
  if (!DOMPurify.isSupported) {
    return {
      html: `<p>${escapeHtml(markdown).replace(/\n/g, '<br>')}</p>`,
      hasMath: false,
      diagrams: [],
    }
  }
  const state: ParseState = { math: false, diagrams: [], svgs: new Map() }
  const raw = makeParser(options, state).parse(markdown, { async: false })
  let html = purifier().sanitize(raw, MARKDOWN_CONFIG)
  if ((state.math && options.math) || state.svgs.size) {
    html = fillPlaceholders(html, options.math ?? null, state.svgs)
  }
  return { html, hasMath: state.math, diagrams: state.diagrams }
}

/** Renders Markdown into sanitized HTML. */
export function renderMarkdown(markdown: string, options: RenderOptions = {}): string {
  return render(markdown, options).html
}
