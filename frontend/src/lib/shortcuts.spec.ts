import { describe, expect, it } from 'vitest'

import { isApple, isEditable, shortcutOf } from './shortcuts'

const key = (over: Partial<KeyboardEvent>) =>
  ({
    key: '',
    code: '',
    shiftKey: false,
    ctrlKey: false,
    metaKey: false,
    altKey: false,
    isComposing: false,
    ...over,
  }) as KeyboardEvent

describe('chat shortcuts', () => {
  it('Escape stops, Shift+Escape focuses the message box', () => {
    expect(shortcutOf(key({ key: 'Escape' }), true)).toBe('stop')
    expect(shortcutOf(key({ key: 'Escape', shiftKey: true }), true)).toBe('focusComposer')
    expect(shortcutOf(key({ key: 'Escape', ctrlKey: true }), true)).toBeNull()
    expect(shortcutOf(key({ key: 'Escape', isComposing: true }), true)).toBeNull()
  })

  it('Ctrl/⌘+Shift+O is a new chat, also with a Korean layout', () => {
    expect(shortcutOf(key({ key: 'O', code: 'KeyO', ctrlKey: true, shiftKey: true }), true)).toBe(
      'newChat',
    )
    expect(shortcutOf(key({ key: 'ㅐ', code: 'KeyO', metaKey: true, shiftKey: true }), false)).toBe(
      'newChat',
    )
    expect(shortcutOf(key({ key: 'o', code: 'KeyO', ctrlKey: true }), false)).toBeNull()
  })

  it('Ctrl+/ opens the help anywhere; "?" only outside text fields; "/" alone is the prompts', () => {
    expect(shortcutOf(key({ key: '/', code: 'Slash', ctrlKey: true }), true)).toBe('help')
    expect(shortcutOf(key({ key: '?', code: 'Slash', shiftKey: true }), false)).toBe('help')
    expect(shortcutOf(key({ key: '?', code: 'Slash', shiftKey: true }), true)).toBeNull()
    expect(shortcutOf(key({ key: '/', code: 'Slash' }), true)).toBeNull()
    expect(shortcutOf(key({ key: '/', code: 'Slash' }), false)).toBeNull()
  })

  it('knows text fields and Apple keyboards', () => {
    expect(isEditable(document.createElement('textarea'))).toBe(true)
    const box = document.createElement('input')
    expect(isEditable(box)).toBe(true)
    box.type = 'checkbox'
    expect(isEditable(box)).toBe(false)
    expect(isEditable(document.createElement('button'))).toBe(false)
    expect(isEditable(null)).toBe(false)
    expect(isApple('MacIntel')).toBe(true)
    expect(isApple('Linux x86_64')).toBe(false)
  })
})
