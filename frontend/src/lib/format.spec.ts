import { describe, expect, it } from 'vitest'

import { durationParts, formatDuration, formatIn, secondsUntil } from './format'

describe('durations in words', () => {
  it('rounds up to the units people say', () => {
    expect(durationParts(0.2)).toEqual([[1, 'second']])
    expect(durationParts(59)).toEqual([[59, 'second']])
    expect(durationParts(60)).toEqual([[1, 'minute']])
    expect(durationParts(897)).toEqual([[15, 'minute']])
    expect(durationParts(3600)).toEqual([[1, 'hour']])
    expect(durationParts(7260)).toEqual([
      [2, 'hour'],
      [1, 'minute'],
    ])
    expect(durationParts(13 * 3600 + 1200)).toEqual([[14, 'hour']])
    expect(durationParts(3 * 86400)).toEqual([[3, 'day']])
  })

  it('"15분 후" / "in 15 minutes", never "897 seconds"', () => {
    expect(formatIn(897, 'ko')).toBe('15분 후')
    expect(formatIn(897, 'en')).toBe('in 15 minutes')
    expect(formatIn(30, 'ko')).toBe('30초 후')
    expect(formatIn(3 * 3600 + 600, 'ko')).toBe('3시간 10분 후')
    expect(formatIn(3 * 3600 + 600, 'en')).toBe('in 3 hours 10 minutes')
    expect(formatIn(86400 * 2, 'en')).toBe('in 2 days')
    expect(formatDuration(61, 'en')).toBe('2 minutes')
    expect(formatDuration(3600, 'ko')).toBe('1시간')
  })

  it('counts the seconds until a time, none for the past or a non-time', () => {
    const now = Date.parse('2024-01-01T00:00:00Z')
    expect(secondsUntil('2024-01-01T00:15:00Z', now)).toBe(900)
    expect(secondsUntil('2023-12-31T23:00:00Z', now)).toBeNull()
    expect(secondsUntil('soon', now)).toBeNull()
    expect(secondsUntil(null, now)).toBeNull()
  })
})
