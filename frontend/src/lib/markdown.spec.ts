// @vitest-environment jsdom
// DOMPurify needs a faithful DOM: happy-dom's tree walker lets attributes through, which
// would make these tests pass or fail for the wrong reason. jsdom is what DOMPurify tests on.
import { describe, expect, it } from 'vitest'

import { renderMarkdown } from './markdown'

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
    const html = renderMarkdown('```python\nprint("<hi>")\n```', { copyLabel: '복사' })
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
