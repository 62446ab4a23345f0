/** Sidebar grouping: Pinned, Today, Previous 7 days, Older — by local calendar day. */
import type { Conversation } from '@/api/types'

export type GroupKey = 'pinned' | 'today' | 'week' | 'older'

export interface ConversationGroup {
  key: GroupKey
  conversations: Conversation[]
}

function startOfDay(date: Date): number {
  return new Date(date.getFullYear(), date.getMonth(), date.getDate()).getTime()
}

/** Which group a conversation updated at `updatedAt` falls in, seen at `now`. */
export function dateGroup(updatedAt: string, now: Date = new Date()): Exclude<GroupKey, 'pinned'> {
  const time = new Date(updatedAt).getTime()
  const today = startOfDay(now)
  if (Number.isNaN(time) || time >= today) return 'today'
  // Seven calendar days before today (a conversation from a week ago today is still "week").
  const weekAgo = new Date(today)
  weekAgo.setDate(weekAgo.getDate() - 7)
  return time >= weekAgo.getTime() ? 'week' : 'older'
}

/** Groups in display order, empty groups left out; the input order is kept inside a group. */
export function groupConversations(
  conversations: Conversation[],
  now: Date = new Date(),
): ConversationGroup[] {
  const groups: Record<GroupKey, Conversation[]> = { pinned: [], today: [], week: [], older: [] }
  for (const conversation of conversations) {
    const key = conversation.pinned ? 'pinned' : dateGroup(conversation.updated_at, now)
    groups[key].push(conversation)
  }
  return (['pinned', 'today', 'week', 'older'] as const)
    .filter((key) => groups[key].length > 0)
    .map((key) => ({ key, conversations: groups[key] }))
}
