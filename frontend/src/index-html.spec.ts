import { describe, expect, it } from 'vitest'

import html from '../index.html?raw'

// The server's contract with index.html (see README: "Base path").
describe('index.html', () => {
  it('has exactly one <base href="/"> in <head>, for the server to rewrite', () => {
    expect(html.split('<base href="/">').length - 1).toBe(1)
    const head = html.slice(html.indexOf('<head>'), html.indexOf('</head>'))
    expect(head).toContain('<base href="/">')
  })

  it('has no inline script and no inline event handler (CSP without unsafe-inline)', () => {
    const scripts = html.match(/<script\b[^>]*>/g) ?? []
    expect(scripts).toEqual(['<script type="module" src="/src/main.ts">'])
    expect(html).not.toMatch(/\son[a-z]+\s*=/i)
  })
})
