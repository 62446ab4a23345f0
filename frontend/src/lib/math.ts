/**
 * KaTeX, loaded lazily (a dynamic import from MarkdownContent.vue) only when an answer has
 * math, with its style sheet and fonts (Vite makes them a separate CSS chunk). Untrusted
 * input: `trust: false` keeps `\href`, `\url`, `\includegraphics` and `\html…` commands out,
 * the expansion limits keep a hostile macro from freezing the tab, and a formula KaTeX cannot
 * parse comes back as its source in KaTeX's error colour instead of throwing.
 */
import 'katex/dist/katex.min.css'

import katex from 'katex'

import type { MathRenderer } from '@/lib/markdown'

export const renderMath: MathRenderer = (tex, display) => {
  try {
    return katex.renderToString(tex, {
      displayMode: display,
      throwOnError: false,
      trust: false,
      strict: 'ignore',
      maxSize: 20,
      maxExpand: 500,
      output: 'htmlAndMathml',
    })
  } catch {
    return null // anything else than a parse error (they are rendered): keep the source
  }
}
