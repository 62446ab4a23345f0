import { afterEach, describe, expect, it } from 'vitest'

import { basePath } from './base'

describe('basePath', () => {
  afterEach(() => {
    document.head.querySelectorAll('base').forEach((el) => el.remove())
  })

  it('is / when the app is served at the root', () => {
    expect(basePath('http://127.0.0.1:8080/')).toBe('/')
  })

  it('is /chat/ when the server rewrote <base> to /chat/', () => {
    expect(basePath('http://127.0.0.1:8080/chat/')).toBe('/chat/')
  })

  it('always ends in a slash, like the browser resolving relative asset URLs', () => {
    // <base href="/chat"> makes the browser load ./assets from /assets, so we agree with it.
    expect(basePath('http://127.0.0.1:8080/chat')).toBe('/')
    expect(basePath('http://127.0.0.1:8080/a/b/')).toBe('/a/b/')
  })

  it('reads document.baseURI by default', () => {
    const base = document.createElement('base')
    base.href = '/chat/'
    document.head.append(base)
    expect(basePath()).toBe('/chat/')
  })
})
