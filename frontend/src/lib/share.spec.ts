import { describe, expect, it } from 'vitest'

import { daysLeft, shareLink } from './share'

describe('shareLink', () => {
  it('builds the page address at the root and under a base path', () => {
    expect(shareLink('abc', 'http://127.0.0.1:8080', '/')).toBe('http://127.0.0.1:8080/s/abc')
    expect(shareLink('abc', 'https://intra.example', '/chat/')).toBe(
      'https://intra.example/chat/s/abc',
    )
  })
  it('escapes the id', () => {
    expect(shareLink('a/b', 'http://h', '/')).toBe('http://h/s/a%2Fb')
  })
})

describe('daysLeft', () => {
  const now = new Date('2024-01-01T00:00:00Z')
  it('rounds up, never negative, null without expiry', () => {
    expect(daysLeft(null, now)).toBeNull()
    expect(daysLeft('2024-01-08T00:00:00Z', now)).toBe(7)
    expect(daysLeft('2024-01-01T01:00:00Z', now)).toBe(1)
    expect(daysLeft('2023-12-01T00:00:00Z', now)).toBe(0)
  })
})
