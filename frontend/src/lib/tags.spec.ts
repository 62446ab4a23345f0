import { describe, expect, it } from 'vitest'

import { addTags, checkTag, sortTags, splitSearch, withoutTagToken } from './tags'

describe('tags', () => {
  it('checks a tag as the server does', () => {
    expect(checkTag('  work ')).toEqual({ tag: 'work' })
    expect(checkTag('   ')).toEqual({ problem: 'empty' })
    expect(checkTag('x'.repeat(51))).toEqual({ problem: 'too_long' })
    expect(checkTag('가'.repeat(50))).toEqual({ tag: '가'.repeat(50) })
    expect(checkTag('a\u0007b')).toEqual({ problem: 'invalid_chars' })
    expect(checkTag('tag:work')).toEqual({ problem: 'invalid_chars' })
  })

  it('adds comma-separated tags, merging duplicates case-insensitively, at most 20', () => {
    expect(addTags(['Work'], 'work, 여행,  , trip')).toEqual({
      tags: ['Work', '여행', 'trip'],
      problem: null,
      rejected: [],
    })
    const many = Array.from({ length: 20 }, (_, i) => `t${i}`)
    expect(addTags(many, 'one more')).toEqual({
      tags: many,
      problem: 'too_many',
      rejected: ['one more'],
    })
    expect(addTags([], 'ok, tag:bad')).toEqual({
      tags: ['ok'],
      problem: 'invalid_chars',
      rejected: ['tag:bad'],
    })
  })

  it('sorts case-insensitively', () => {
    expect(sortTags(['b', 'A', 'c'])).toEqual(['A', 'b', 'c'])
  })

  it('splits tag: tokens out of the search text', () => {
    expect(splitSearch('tag:work 강아지  tag:여행')).toEqual({
      keywords: '강아지',
      tags: ['work', '여행'],
    })
    expect(splitSearch('TAG:Work tag:work')).toEqual({ keywords: '', tags: ['Work'] })
    expect(splitSearch('tag: plain')).toEqual({ keywords: 'tag: plain', tags: [] })
    expect(withoutTagToken('tag:work 강아지', 'WORK')).toBe('강아지')
  })
})
