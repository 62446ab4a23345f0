// @vitest-environment jsdom
import { describe, expect, it } from 'vitest'

import { renderMath } from './math'

function dom(html: string | null): HTMLElement {
  const root = document.createElement('div')
  root.innerHTML = html ?? ''
  return root
}

describe('renderMath', () => {
  it('renders inline and display formulas with KaTeX', () => {
    expect(dom(renderMath('x^2', false)).querySelector('.katex .katex-html')).not.toBeNull()
    expect(dom(renderMath('x^2', false)).querySelector('.katex-display')).toBeNull()
    expect(dom(renderMath('\\sum_{i=1}^n i', true)).querySelector('.katex-display')).not.toBeNull()
  })

  it('shows what it cannot parse as the source, in the error style', () => {
    const error = dom(renderMath('\\frac{1', false)).querySelector('.katex-error')
    expect(error?.textContent).toBe('\\frac{1')
    expect(error?.getAttribute('title')).toMatch(/ParseError/)
  })

  it('does not trust the formula: no links, images or HTML attributes', () => {
    for (const tex of [
      '\\href{javascript:alert(1)}{x}',
      '\\url{https://example.com}',
      '\\includegraphics{https://example.com/x.png}',
      '\\htmlId{x}{y}',
      '\\htmlData{foo=bar}{y}',
    ]) {
      const root = dom(renderMath(tex, false))
      expect(root.querySelector('a, img, [id="x"], [data-foo]'), tex).toBeNull()
    }
  })

  it('stops a macro that expands forever instead of freezing the tab', () => {
    const started = Date.now()
    const root = dom(renderMath('\\def\\x{\\x\\x}\\x', false))
    expect(root.querySelector('.katex-error')).not.toBeNull()
    expect(Date.now() - started).toBeLessThan(2000)
  })
})
