// @vitest-environment jsdom
// DOMPurify needs a faithful DOM: happy-dom's tree walker lets attributes through, which
// would make these tests pass or fail for the wrong reason. jsdom is what DOMPurify tests on.
import { describe, expect, it } from 'vitest'

import { render, renderMarkdown } from './markdown'
import { renderMath } from './math'

/** Everything in the rendered DOM that could run code: on* attributes, script-ish URLs, tags. */
function dangers(html: string): string[] {
  const root = document.createElement('div')
  root.innerHTML = html
  const found: string[] = []
  for (const el of root.querySelectorAll('*')) {
    if (['SCRIPT', 'IFRAME', 'OBJECT', 'EMBED', 'IMG', 'STYLE'].includes(el.tagName)) {
      found.push(el.tagName)
    }
    for (const attr of el.attributes) {
      if (/^on/i.test(attr.name)) found.push(`${el.tagName} ${attr.name}`)
      if (/^\s*(javascript|data|vbscript):/i.test(attr.value))
        found.push(`${attr.name}=${attr.value}`)
    }
  }
  return found
}

describe('renderMarkdown', () => {
  it('renders GFM: emphasis, lists, tables, links', () => {
    const html = renderMarkdown(
      '**bold** and [site](https://example.com)\n\n- a\n- b\n\n|x|y|\n|-|-|\n|1|2|',
    )
    expect(html).toContain('<strong>bold</strong>')
    expect(html).toContain('<li>a</li>')
    expect(html).toContain('<table>')
    expect(html).toMatch(/<a href="https:\/\/example.com"[^>]*target="_blank"[^>]*>site<\/a>/)
    expect(html).toContain('rel="noopener noreferrer nofollow"')
  })

  it('shows raw HTML as text and never lets a script through', () => {
    const html = renderMarkdown('hello <script>alert(1)</script> <b onclick="x()">b</b>')
    expect(dangers(html)).toEqual([])
    expect(html).not.toContain('<script')
    expect(html).toContain('&lt;script&gt;')
  })

  it('removes onerror and image tricks', () => {
    const html = renderMarkdown(
      '<img src=x onerror="alert(1)">\n\n![x](javascript:alert(1))\n\n<svg onload=alert(1)>',
    )
    expect(dangers(html)).toEqual([])
    expect(html).toContain('&lt;img') // shown as text
  })

  it('drops javascript:, data: and vbscript: link targets', () => {
    for (const url of [
      'javascript:alert(1)',
      'JaVaScRiPt:alert(1)',
      'data:text/html,<b>',
      'vbscript:x',
    ]) {
      const html = renderMarkdown(`[click](${url})`)
      expect(dangers(html)).toEqual([])
      expect(html).not.toMatch(/href=/)
      expect(html).toContain('click')
    }
    expect(renderMarkdown('<a href="javascript:alert(1)">x</a>')).not.toMatch(/<a /)
  })

  it('wraps code blocks with the language and a copy button without inline handlers', () => {
    const html = renderMarkdown('```python\nprint("<hi>")\n```', { labels: { copy: '복사' } })
    expect(html).toContain('class="code-block"')
    expect(html).toContain('<span class="code-lang">python</span>')
    expect(html).toMatch(/<button[^>]*data-copy=""[^>]*>복사<\/button>/)
    expect(html).not.toMatch(/onclick/i)
    expect(html).toContain('print("&lt;hi&gt;")')
  })

  it('uses the highlighter when given, and DOMPurify still has the last word', () => {
    const html = renderMarkdown('```js\nx\n```', {
      highlight: () => '<span class="hljs-keyword">x</span><img src=x onerror=alert(1)>',
    })
    expect(html).toContain('<span class="hljs-keyword">x</span>')
    expect(dangers(html)).toEqual([])
  })
})

/** The rendered HTML as a DOM tree, to query. */
function dom(html: string): HTMLElement {
  const root = document.createElement('div')
  root.innerHTML = html
  return root
}

describe('tables', () => {
  it('keep the alignment of their columns as classes', () => {
    const root = dom(renderMarkdown('|c|r|l|n|\n|:-:|--:|:--|---|\n|1|2|3|4|\n|**5**|6|7|8|'))
    const classes = (selector: string) =>
      [...root.querySelectorAll(selector)].map((cell) => cell.className)
    const columns = ['align-center', 'align-right', 'align-left', '']
    expect(classes('th')).toEqual(columns)
    expect(classes('tr:first-child td')).toEqual(columns)
    expect(classes('tr:last-child td')).toEqual(columns)
    expect(root.querySelector('td strong')?.textContent).toBe('5')
  })
})

describe('attributes that are not URLs', () => {
  it('survive sanitizing (the list start, the button type)', () => {
    const root = dom(renderMarkdown('3. three\n4. four\n\n```js\nx\n```'))
    expect(root.querySelector('ol')?.getAttribute('start')).toBe('3')
    expect(root.querySelector('button')?.getAttribute('type')).toBe('button')
  })
})

describe('math', () => {
  const tex = (html: string) =>
    [...dom(html).querySelectorAll<HTMLElement>('[data-tex]')].map((el) => [
      el.dataset.tex,
      el.hasAttribute('data-display'),
    ])

  it('finds $…$, $$…$$, \\(…\\) and \\[…\\] and shows them as written until rendered', () => {
    const result = render(
      'Inline $x^2$, \\(y_1\\) and $$z$$ in text.\n\n$$\nE = mc^2\n$$\n\n\\[\n\\int_0^1 x\\,dx\n\\]\n',
    )
    expect(result.hasMath).toBe(true)
    expect(tex(result.html)).toEqual([
      ['x^2', false],
      ['y_1', false],
      ['z', true],
      ['E = mc^2', true],
      ['\\int_0^1 x\\,dx', true],
    ])
    const root = dom(result.html)
    expect(root.querySelector('p')?.textContent).toBe('Inline $x^2$, \\(y_1\\) and $$z$$ in text.')
    expect(root.querySelectorAll('div.math-display')).toHaveLength(2)
    expect(root.querySelector('span.math-display')?.textContent).toBe('$$z$$')
  })

  it('leaves prices, escaped dollars and code alone', () => {
    for (const text of [
      'It costs $5 and $10.',
      'Between $5, or $10 at most',
      'Either $5/$10 per month',
      'US$ 20 and US$30',
      'Escaped \\$x\\$ dollars',
      'Code `$x$` and `\\(y\\)`',
      '```\n$x$ and $$y$$\n```',
      '    $$indented code$$',
      'Empty $$ $$ pair',
    ]) {
      const result = render(text)
      expect(result.hasMath, text).toBe(false)
      expect(result.html).not.toContain('data-tex')
    }
    expect(dom(renderMarkdown('It costs $5 and $10.')).querySelector('p')?.textContent).toBe(
      'It costs $5 and $10.',
    )
  })

  it('keeps Markdown out of a formula', () => {
    expect(tex(renderMarkdown('$a_1 * b_2 * c_3$ and $[x](y)$'))).toEqual([
      ['a_1 * b_2 * c_3', false],
      ['[x](y)', false],
    ])
  })

  it('renders with KaTeX: inline, display, and the TeX kept for screen readers', () => {
    const root = dom(renderMarkdown('Inline $x^2$.\n\n$$\n\\frac{a}{b}\n$$', { math: renderMath }))
    expect(root.querySelectorAll('.katex')).toHaveLength(2)
    expect(root.querySelectorAll('.katex-display')).toHaveLength(1)
    expect(root.querySelector('.math-inline .katex-display')).toBeNull()
    expect(root.querySelector('annotation')?.getAttribute('encoding')).toBe('application/x-tex')
    expect(root.querySelector('annotation')?.textContent).toBe('x^2')
    expect(root.querySelector('[data-tex]')).toBeNull()
    expect(root.querySelector('.katex-html [style]')).not.toBeNull() // KaTeX's layout stays
  })

  it('shows a formula KaTeX cannot parse as its source, without throwing', () => {
    const root = dom(renderMarkdown('Broken $\\frac{a$ here', { math: renderMath }))
    expect(root.querySelector('.katex-error')?.textContent).toBe('\\frac{a')
  })

  it('keeps the source when the renderer fails', () => {
    const html = renderMarkdown('Oops $x$', {
      math: () => {
        throw new Error('boom')
      },
    })
    expect(dom(html).querySelector('.math')?.textContent).toBe('$x$')
  })

  it('stays harmless: no links, no handlers, no images, whatever the formula', () => {
    const html = renderMarkdown(
      [
        '$\\href{javascript:alert(1)}{x}$',
        '$\\url{javascript:alert(1)}$',
        '$\\includegraphics{https://evil.example/x.png}$',
        '$\\htmlData{onerror=alert(1)}{x}$',
        '$x$ <img src=x onerror=alert(1)> $y$',
        '$"><img src=x onerror=alert(1)>$',
      ].join('\n\n'),
      { math: renderMath },
    )
    expect(dangers(html)).toEqual([])
    expect(html).not.toMatch(/<a[\s>]/)
    expect(dom(html).querySelectorAll('.katex').length).toBeGreaterThanOrEqual(5)
  })

  it('sanitizes the renderer output too', () => {
    const html = renderMarkdown('$x$', {
      math: () =>
        '<span class="katex">ok<img src=x onerror=alert(1)><script>alert(1)</script>' +
        '<a href="javascript:alert(1)">a</a><style>*{}</style></span>',
    })
    expect(dangers(html)).toEqual([])
    expect(html).not.toMatch(/<(a|script|style)[\s>]/)
    expect(dom(html).querySelector('.katex')?.textContent).toContain('ok')
  })
})

describe('mermaid blocks', () => {
  const source = 'graph TD\n  A-->B'
  const markdown = `Look:\n\n\`\`\`mermaid\n${source}\n\`\`\`\n`
  const svg = '<svg id="m1" role="graphics-document document"><g><text>A</text></g></svg>'

  it('are code blocks with a copy button until drawn, and listed', () => {
    const result = render(markdown, { labels: { copy: '복사' } })
    expect(result.diagrams).toEqual([source])
    const block = dom(result.html).querySelector('.diagram-block')
    expect(block?.classList.contains('shows-code')).toBe(true)
    expect(block?.querySelector('code')?.textContent).toBe(`${source}\n`.trimEnd())
    expect(block?.querySelector('[data-copy]')?.textContent).toBe('복사')
    expect(block?.querySelector('[data-diagram-toggle]')).toBeNull()
  })

  it('show the drawn SVG with a Code toggle, the source still there to copy', () => {
    const block = dom(renderMarkdown(markdown, { diagram: () => ({ svg }) })).querySelector(
      '.diagram-block',
    )
    expect(block?.classList.contains('shows-diagram')).toBe(true)
    expect(block?.querySelector('.diagram svg')?.getAttribute('id')).toBe('m1')
    expect(block?.querySelector('[data-diagram-toggle="0"]')?.textContent).toBe('Code')
    expect(block?.querySelector('code')?.textContent).toBe(source)
  })

  it('show the source once toggled', () => {
    const block = dom(
      renderMarkdown(markdown, { diagram: () => ({ svg }), showCode: new Set([0]) }),
    ).querySelector('.diagram-block')
    expect(block?.classList.contains('shows-code')).toBe(true)
    expect(block?.querySelector('[data-diagram-toggle]')?.textContent).toBe('Diagram')
  })

  it('show a short error above the code when the diagram is invalid', () => {
    const block = dom(
      renderMarkdown(markdown, {
        diagram: () => ({ error: 'Parse error on line 2:\n...A--\n---^\nExpecting <x>' }),
      }),
    ).querySelector('.diagram-block')
    expect(block?.classList.contains('shows-code')).toBe(true)
    expect(block?.querySelector('.diagram-error')?.textContent).toBe(
      'The diagram could not be drawn: Parse error on line 2:',
    )
    expect(block?.querySelector('.diagram')).toBeNull()
    expect(block?.querySelector('code')?.textContent).toBe(source)
  })

  it('never take a diagram from the text itself', () => {
    const html = renderMarkdown('<div data-diagram="0"></div>\n\n```mermaid\nx\n```', {
      diagram: () => ({ svg }),
    })
    expect(dom(html).querySelectorAll('svg')).toHaveLength(1)
  })
})
