import { afterEach, describe, expect, it } from 'vitest'

import { ApiError } from '@/api/http'
import { setLocale } from '@/i18n'

import { formatWait, limitNotice } from './limits'

const NOW = Date.parse('2024-01-01T20:50:00Z')

describe('limitNotice', () => {
  afterEach(() => setLocale('en'))

  it('a 429 is the daily limit, said in the UI language with the wait in words', () => {
    const error = new ApiError(
      429,
      'daily_limit_reached',
      'Daily limit of 20 messages reached (plan "free"); it resets at 2024-01-02T00:00:00Z.',
      {},
      3 * 3600 + 600,
      { limit: 20, resetsAt: '2024-01-02T00:00:00Z' },
    )
    setLocale('en')
    expect(limitNotice(error, undefined, NOW)).toEqual({
      kind: 'daily',
      message: 'You have used all 20 messages your plan allows per day.',
      retryAfter: 'in 3 hours 10 minutes',
    })
    setLocale('ko')
    expect(limitNotice(error, undefined, NOW)).toEqual({
      kind: 'daily',
      message: '요금제의 하루 메시지 20개를 모두 사용했습니다.',
      retryAfter: '3시간 10분 후',
    })
  })

  it('without Retry-After the wait comes from resets_at', () => {
    const error = new ApiError(429, 'daily_limit_reached', 'limit', {}, null, {
      resetsAt: '2024-01-02T00:00:00Z',
    })
    expect(limitNotice(error, undefined, NOW)?.retryAfter).toBe('in 3 hours 10 minutes')
  })

  it('a 403 about a model is a model outside the plan, in words of ours', () => {
    const error = new ApiError(
      403,
      'model_not_in_plan',
      'the model gpt-4o is not included in your plan "free"',
    )
    expect(limitNotice(error)).toMatchObject({
      kind: 'model',
      message: 'This model is not included in your plan.',
      retryAfter: null,
    })
  })

  it('an unknown code keeps the server’s sentence', () => {
    const error = new ApiError(
      403,
      'model_not_known_yet',
      'Model gpt-4o is not in your plan "free".',
    )
    expect(limitNotice(error)).toMatchObject({ kind: 'model', retryAfter: null })
    expect(limitNotice(error)?.message).toContain('gpt-4o')
  })

  it("a model outside the user's groups (issue 21) is a model notice in words", () => {
    const error = new ApiError(403, 'model_not_allowed', 'model gpt-4o is not allowed')
    expect(limitNotice(error)).toMatchObject({ kind: 'model', retryAfter: null })
    expect(limitNotice(error)?.message).not.toContain('gpt-4o')
  })

  it('anything else is not a limit: a 409, a network error, too many attempts', () => {
    expect(limitNotice(null)).toBeNull()
    expect(limitNotice(new ApiError(409, 'generation_in_progress', 'busy'))).toBeNull()
    expect(limitNotice(new ApiError(0, 'network_error', 'down'))).toBeNull()
    expect(limitNotice(new ApiError(429, 'rate_limited', 'slow down', {}, 5))).toBeNull()
    expect(limitNotice(new ApiError(429, 'upstream_rate_limited', 'busy', {}, 1))).toBeNull()
  })
})

describe('formatWait', () => {
  it('seconds, minutes, hours, in words of the language', () => {
    expect(formatWait(20, 'en')).toBe('20 seconds')
    expect(formatWait(90, 'en')).toBe('2 minutes')
    expect(formatWait(7200, 'en')).toBe('2 hours')
    expect(formatWait(7260, 'en')).toBe('2 hours 1 minute')
    expect(formatWait(7260, 'ko')).toBe('2시간 1분')
  })
})
