import { describe, expect, it } from 'vitest'

import type { Conversation } from '@/api/types'

import { dateGroup, groupConversations } from './dateGroups'

function conv(id: string, updated: Date, pinned = false): Conversation {
  return {
    id,
    title: id,
    model_id: null,
    pinned,
    archived: false,
    message_count: 2,
    created_at: updated.toISOString(),
    updated_at: updated.toISOString(),
  }
}

describe('date grouping', () => {
  const now = new Date(2024, 4, 15, 10, 0) // 15 May 2024, 10:00 local time

  it('splits by local calendar day: today, the previous 7 days, older', () => {
    expect(dateGroup(new Date(2024, 4, 15, 0, 1).toISOString(), now)).toBe('today')
    expect(dateGroup(new Date(2024, 4, 14, 23, 59).toISOString(), now)).toBe('week')
    expect(dateGroup(new Date(2024, 4, 8, 0, 0).toISOString(), now)).toBe('week')
    expect(dateGroup(new Date(2024, 4, 7, 23, 59).toISOString(), now)).toBe('older')
  })

  it('a time in the future (clock skew) counts as today', () => {
    expect(dateGroup(new Date(2024, 4, 16).toISOString(), now)).toBe('today')
  })

  it('puts pinned first, keeps order inside groups and leaves out empty groups', () => {
    const groups = groupConversations(
      [
        conv('a', new Date(2024, 4, 15, 9)),
        conv('p', new Date(2024, 0, 1), true),
        conv('b', new Date(2024, 4, 15, 8)),
        conv('old', new Date(2023, 0, 1)),
      ],
      now,
    )
    expect(groups.map((g) => [g.key, g.conversations.map((c) => c.id)])).toEqual([
      ['pinned', ['p']],
      ['today', ['a', 'b']],
      ['older', ['old']],
    ])
  })
})
