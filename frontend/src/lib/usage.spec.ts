import { describe, expect, it } from 'vitest'

import type { UsageRow } from '@/api/types'

import { compactNumber, daysBetween, niceScale, usageChart, usageTotals } from './usage'

const row = (over: Partial<UsageRow>): UsageRow => ({
  user_id: 'u1',
  username: 'alice',
  model_id: 'm1',
  messages: 1,
  prompt_tokens: 10,
  completion_tokens: 5,
  ...over,
})

describe('usageChart', () => {
  const range = { from: '2024-01-01', to: '2024-01-03' }

  it('one bar per day of the range (empty days too), one segment per model, biggest model first', () => {
    const data = usageChart(
      [
        row({ day: '2024-01-01', model_id: 'small', prompt_tokens: 1, completion_tokens: 1 }),
        row({ day: '2024-01-03', model_id: 'big', prompt_tokens: 100, completion_tokens: 50 }),
        row({
          day: '2024-01-03',
          user_id: 'u2',
          model_id: 'small',
          prompt_tokens: 3,
          completion_tokens: 0,
        }),
      ],
      'tokens',
      range,
    )
    expect(data.labels).toEqual(['2024-01-01', '2024-01-02', '2024-01-03'])
    expect(data.series).toEqual(['big', 'small'])
    expect(data.values).toEqual([
      [0, 2],
      [0, 0],
      [150, 3],
    ])
    expect(data.max).toBe(153)
  })

  it('without days: one bar per user, by messages', () => {
    const data = usageChart(
      [
        row({ username: 'alice', messages: 2 }),
        row({ user_id: 'u2', username: 'bob', messages: 5, model_id: 'm2' }),
      ],
      'messages',
      range,
    )
    expect(data.labels).toEqual(['bob', 'alice'])
    expect(data.series).toEqual(['m2', 'm1'])
    expect(data.values).toEqual([
      [5, 0],
      [0, 2],
    ])
  })
})

describe('helpers', () => {
  it('daysBetween includes both ends', () => {
    expect(daysBetween('2024-02-28', '2024-03-01')).toEqual([
      '2024-02-28',
      '2024-02-29',
      '2024-03-01',
    ])
    expect(daysBetween('2024-03-02', '2024-03-01')).toEqual([])
  })
  it('niceScale rounds the top up to a round step', () => {
    expect(niceScale(153)).toEqual({ top: 200, ticks: [0, 50, 100, 150, 200] })
    expect(niceScale(0)).toEqual({ top: 1, ticks: [0, 1] })
    expect(niceScale(9).top).toBe(10)
  })
  it('compactNumber', () => {
    expect(compactNumber(999)).toBe('999')
    expect(compactNumber(12_345)).toBe('12.3k')
    expect(compactNumber(1_234_567)).toBe('1.2M')
  })
  it('usageTotals sums days per user and model', () => {
    const totals = usageTotals([
      row({ day: '2024-01-01' }),
      row({ day: '2024-01-02' }),
      row({ model_id: 'm2', prompt_tokens: 1, completion_tokens: 0 }),
    ])
    expect(
      totals.map((t) => [t.model_id, t.messages, t.prompt_tokens + t.completion_tokens]),
    ).toEqual([
      ['m1', 2, 30],
      ['m2', 1, 1],
    ])
  })
})
