// @vitest-environment jsdom
// jsdom has no layout: mermaid measures text with getBBox, given a fixed box here. What the
// diagram looks like is the browser test's business (e2e/daily-markdown.spec.ts); this file
// checks what mermaid is allowed to produce.
import { beforeAll, describe, expect, it } from 'vitest'

import { drawDiagram, isDark, onThemeChange } from './mermaid'

beforeAll(() => {
  const proto = window.SVGElement.prototype as unknown as Record<string, unknown>
  proto.getBBox = () => ({ x: 0, y: 0, width: 60, height: 20 })
  proto.getComputedTextLength = () => 60
})

function svgOf(diagram: { svg: string } | { error: string }): string {
  if (!('svg' in diagram)) throw new Error(`not drawn: ${diagram.error}`)
  return diagram.svg
}

describe('drawDiagram', () => {
  it('draws a flowchart as an SVG document, once per source and theme', async () => {
    const source = 'graph TD\n  A[Start] --> B{Ok?}'
    const first = drawDiagram(source, false)
    expect(drawDiagram(source, false)).toBe(first)
    const svg = svgOf(await first)
    expect(svg).toMatch(/^<svg [^>]*role="graphics-document document"/)
    expect(svg).toContain('Start')
    expect(document.body.children).toHaveLength(0) // its measuring room is cleaned up
  })

  it('follows the theme', async () => {
    const source = 'graph LR\n  X --> Y'
    const light = svgOf(await drawDiagram(source, false))
    const dark = svgOf(await drawDiagram(source, true))
    const nodeFill = (svg: string) => /\.node rect[^{]*\{fill:([^;]+);/.exec(svg)?.[1]
    expect(nodeFill(light)).toBeTruthy()
    expect(nodeFill(dark)).toBeTruthy()
    expect(nodeFill(dark)).not.toBe(nodeFill(light))
  })

  it('stays strict whatever the diagram says', async () => {
    const svg = svgOf(
      await drawDiagram(
        [
          '%%{init: {"securityLevel": "loose", "dompurifyConfig": {"ADD_ATTR": ["onclick"]}}}%%',
          'graph TD',
          '  A["<b onclick=alert(1)>bold</b>"] --> B["<img src=https://evil.example/t.png>"]',
          '  B --> C["<a href=javascript:alert(1)>link</a>"]',
          '  click A call alert(1)',
          '  click B "javascript:alert(1)"',
        ].join('\n'),
        false,
      ),
    )
    expect(svg).toContain('bold')
    expect(svg).not.toMatch(/\son[a-z]+=/i)
    expect(svg).not.toMatch(/javascript:/i)
    expect(svg).not.toMatch(/<(img|image|script|iframe)[\s>]/i)
    expect(svg).not.toContain('evil.example')
  })

  it('reports an invalid diagram and leaves nothing behind', async () => {
    const diagram = await drawDiagram('graph TD\n  A --> --> B', false)
    expect('error' in diagram && diagram.error).toMatch(/^Parse error on line 2/)
    expect(document.body.children).toHaveLength(0)
  })
})

describe('the theme', () => {
  it('follows <html data-theme> and says when it changes', async () => {
    const seen: boolean[] = []
    const stop = onThemeChange(() => seen.push(isDark()))
    document.documentElement.dataset.theme = 'dark'
    await Promise.resolve() // MutationObserver callbacks run as microtasks
    document.documentElement.dataset.theme = 'light'
    await Promise.resolve()
    stop()
    document.documentElement.dataset.theme = 'dark'
    await Promise.resolve()
    expect(seen).toEqual([true, false])
    delete document.documentElement.dataset.theme
  })
})
