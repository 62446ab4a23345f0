/**
 * Mermaid, loaded lazily (a dynamic import from MarkdownContent.vue) only when an answer has a
 * ```mermaid block, and drawn only once the answer is complete. `securityLevel: 'strict'`:
 * labels are sanitized, click handlers and scripts are off, and mermaid passes its SVG through
 * DOMPurify before handing it over; a diagram's `%%{init}%%` cannot loosen that (mermaid keeps
 * `securityLevel` among its "secure" keys). Nothing here evaluates code, so it works under the
 * server's CSP (`script-src 'self'`).
 *
 * Mermaid's configuration is global and its render is not re-entrant: diagrams are drawn one
 * at a time, each with the theme of the page at that moment (light or dark).
 */
import mermaid from 'mermaid'

import type { Diagram } from '@/lib/markdown'

const darkQuery = () => window.matchMedia?.('(prefers-color-scheme: dark)')

/** Whether the page is dark: `<html data-theme>` (the user's choice), else the OS setting. */
export function isDark(): boolean {
  const chosen = document.documentElement.dataset.theme
  if (chosen === 'dark' || chosen === 'light') return chosen === 'dark'
  return darkQuery()?.matches ?? false
}

/** Calls `listener` when the page may have switched between light and dark; returns a stop. */
export function onThemeChange(listener: () => void): () => void {
  const query = darkQuery()
  query?.addEventListener?.('change', listener)
  const observer = new MutationObserver(listener)
  observer.observe(document.documentElement, { attributes: true, attributeFilter: ['data-theme'] })
  return () => {
    query?.removeEventListener?.('change', listener)
    observer.disconnect()
  }
}

/** Mermaid's own secure keys, plus the sanitizing of labels. */
const SECURE_KEYS = [
  'secure',
  'securityLevel',
  'startOnLoad',
  'maxTextSize',
  'suppressErrorRendering',
  'maxEdges',
  'dompurifyConfig',
] as const
/** A diagram that takes longer gives way (reported as an error) so the next ones get drawn. */
const DRAW_TIMEOUT_MS = 15_000

let counter = 0
let queue: Promise<unknown> = Promise.resolve()
const cache = new Map<string, Promise<Diagram>>()
const CACHE_SIZE = 100

async function draw(source: string, dark: boolean): Promise<Diagram> {
  mermaid.initialize({
    startOnLoad: false,
    securityLevel: 'strict',
    theme: dark ? 'dark' : 'default',
    fontFamily: getComputedStyle(document.body).fontFamily || 'sans-serif',
    // An invalid diagram throws instead of drawing mermaid's "bomb" picture into the page.
    suppressErrorRendering: true,
    // Labels may hold some HTML, but no images: a remote one would tell its host who reads
    // the answer (as in lib/markdown.ts), and the server's CSP would block it anyway.
    dompurifyConfig: {
      FORBID_TAGS: ['img', 'image', 'picture', 'video', 'audio', 'iframe', 'style', 'form'],
      FORBID_ATTR: ['style'],
    },
    // Nor can a diagram's `%%{init}%%` directive loosen that.
    secure: [...SECURE_KEYS],
  })
  const id = `daehwa-mermaid-${++counter}`
  try {
    await mermaid.parse(source)
    const { svg } = await mermaid.render(id, source)
    return { svg }
  } catch (error) {
    // What a failed render may leave behind in <body> (mermaid measures text there).
    document.getElementById(id)?.remove()
    document.getElementById(`d${id}`)?.remove()
    return { error: error instanceof Error ? error.message : String(error) }
  }
}

/** The diagram of `source` in the light or dark theme (drawn once, then cached). */
export function drawDiagram(source: string, dark: boolean): Promise<Diagram> {
  const key = `${dark ? 'dark' : 'light'}\n${source}`
  const cached = cache.get(key)
  if (cached) return cached
  const job = queue.then(() =>
    Promise.race([
      draw(source, dark),
      new Promise<Diagram>((resolve) =>
        setTimeout(() => resolve({ error: 'Drawing took too long.' }), DRAW_TIMEOUT_MS),
      ),
    ]),
  )
  queue = job.catch(() => undefined)
  if (cache.size >= CACHE_SIZE) cache.clear()
  cache.set(key, job)
  return job
}
