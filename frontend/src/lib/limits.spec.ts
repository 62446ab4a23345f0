import { describe, expect, it } from 'vitest'

import { ApiError } from '@/api/http'

import { formatWait, limitNotice } from './limits'

describe('limitNotice', () => {
  it('a 429 is the daily limit, with the server message and the wait', () => {
    const error = new ApiError(
      429,
      'daily_limit_reached',
      'Daily limit of 20 messages reached (plan "free"); it resets at 2024-01-02T00:00:00Z.',
      {},
      3 * 3600 + 600,
    )
    expect(limitNotice(error)).toEqual({
      kind: 'daily',
      message:
        'Daily limit of 20 messages reached (plan "free"); it resets at 2024-01-02T00:00:00Z.',
      retryAfter: '3 h 10 min',
    })
  })
  it('a 403 about a model is a model outside the plan', () => {
    const error = new ApiError(403, 'model_not_allowed', 'Model gpt-4o is not in your plan "free".')
    expect(limitNotice(error)).toMatchObject({ kind: 'model', retryAfter: null })
    expect(limitNotice(error)?.message).toContain('gpt-4o')
  })
  it('anything else is not a limit', () => {
    expect(limitNotice(null)).toBeNull()
    expect(limitNotice(new ApiError(409, 'generation_in_progress', 'busy'))).toBeNull()
    expect(limitNotice(new ApiError(0, 'network_error', 'down'))).toBeNull()
  })
})

describe('formatWait', () => {
  it('seconds, minutes, hours', () => {
    expect(formatWait(20)).toBe('20 s')
    expect(formatWait(90)).toBe('2 min')
    expect(formatWait(7200)).toBe('2 h')
    expect(formatWait(7260)).toBe('2 h 1 min')
  })
})
