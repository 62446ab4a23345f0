/** Shared snapshots of conversations: `/api/v1/shares`. The read (`getShare`) needs no login. */
import { cursorOf, http, listOf, query } from '@/api/http'
import type { Conversation, Share, SharedConversation } from '@/api/types'

const path = (id: string, rest = '') => `api/v1/shares/${encodeURIComponent(id)}${rest}`

export const createShare = (conversation_id: string, expires_in_days?: number | null) =>
  http.post<Share>('api/v1/shares', {
    conversation_id,
    ...(expires_in_days ? { expires_in_days } : {}),
  })

export const listShares = (params: { all?: boolean; cursor?: string | null } = {}) =>
  http.get<unknown>(`api/v1/shares${query({ ...params, limit: 50 })}`).then((body) => ({
    shares: listOf<Share>(body, 'shares'),
    next_cursor: cursorOf(body),
  }))

export const getShare = (id: string) => http.get<SharedConversation>(path(id))

export const cloneShare = (id: string) => http.post<Conversation>(path(id, '/clone'))

export const deleteShare = (id: string) => http.delete<void>(path(id))
