import { afterEach, describe, expect, it } from 'vitest'

import { i18n, initialLocale, LANG_STORAGE_KEY, setLocale } from './i18n'

describe('language', () => {
  afterEach(() => {
    localStorage.clear()
  })

  it('follows the browser on a first visit: Korean for ko*, English otherwise', () => {
    expect(initialLocale('ko')).toBe('ko')
    expect(initialLocale('ko-KR')).toBe('ko')
    expect(initialLocale('en-US')).toBe('en')
    expect(initialLocale('ja-JP')).toBe('en')
    expect(initialLocale('')).toBe('en')
  })

  it('remembers an explicit choice over the browser language', () => {
    setLocale('ko')
    expect(i18n.global.locale.value).toBe('ko')
    expect(localStorage.getItem(LANG_STORAGE_KEY)).toBe('ko')
    expect(initialLocale('en-US')).toBe('ko')

    setLocale('en')
    expect(initialLocale('ko-KR')).toBe('en')
  })

  it('ignores a stored value that is not a language we have', () => {
    localStorage.setItem(LANG_STORAGE_KEY, 'fr')
    expect(initialLocale('ko-KR')).toBe('ko')
  })
})
