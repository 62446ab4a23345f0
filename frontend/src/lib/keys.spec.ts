import { describe, expect, it } from 'vitest'

import { isSendKey, searchKeywords } from './keys'

const key = (over: Partial<KeyboardEvent>) =>
  ({
    key: 'Enter',
    shiftKey: false,
    altKey: false,
    ctrlKey: false,
    metaKey: false,
    isComposing: false,
    keyCode: 13,
    ...over,
  }) as KeyboardEvent

describe('Enter and the IME', () => {
  it('Enter sends', () => {
    expect(isSendKey(key({}))).toBe(true)
  })

  it('Shift+Enter (and Alt+Enter) make a new line', () => {
    expect(isSendKey(key({ shiftKey: true }))).toBe(false)
    expect(isSendKey(key({ altKey: true }))).toBe(false)
  })

  it('an Enter that commits a Korean syllable never sends', () => {
    expect(isSendKey(key({ isComposing: true }))).toBe(false)
    // Safari: composition already ended, but the key is still the IME's (229).
    expect(isSendKey(key({ keyCode: 229 }))).toBe(false)
  })

  it('other keys do nothing', () => {
    expect(isSendKey(key({ key: 'a', keyCode: 65 }))).toBe(false)
  })
})

describe('searchKeywords', () => {
  it('turns spaces and commas into the server’s comma-separated keywords', () => {
    expect(searchKeywords('  apple, orange  banana ')).toBe('apple,orange,banana')
    expect(searchKeywords('강아지 산책')).toBe('강아지,산책')
    expect(searchKeywords(' , ')).toBe('')
  })
})
