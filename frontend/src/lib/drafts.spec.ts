import { afterEach, describe, expect, it } from 'vitest'

import { NEW_CHAT, clearDraft, draftKey, loadDraft, mergeDraft, saveDraft } from './drafts'

describe('drafts', () => {
  afterEach(() => sessionStorage.clear())

  it('keeps one draft per conversation and one for a new chat, in sessionStorage', () => {
    saveDraft(draftKey('c1'), '회의록을 요약해')
    saveDraft(draftKey(null), 'a new chat')
    expect(loadDraft('c1')).toBe('회의록을 요약해')
    expect(loadDraft(NEW_CHAT)).toBe('a new chat')
    expect(loadDraft('c2')).toBe('')
    expect(localStorage.length).toBe(0)
    expect(Object.keys(sessionStorage).sort()).toEqual(['daehwa.draft.c1', 'daehwa.draft.new'])
  })

  it('blank text and clearDraft remove the entry', () => {
    saveDraft('c1', 'x')
    saveDraft('c1', '   ')
    expect(sessionStorage.length).toBe(0)
    saveDraft('c1', 'y')
    clearDraft('c1')
    expect(loadDraft('c1')).toBe('')
  })

  it('a returned question goes before new text, never twice', () => {
    expect(mergeDraft('', 'lost question')).toBe('lost question')
    expect(mergeDraft('lost question', 'lost question')).toBe('lost question')
    expect(mergeDraft('typed since', 'lost question')).toBe('lost question\n\ntyped since')
    expect(mergeDraft('typed since', '  ')).toBe('typed since')
  })
})
