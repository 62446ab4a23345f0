/** Administration of accounts: `/api/v1/users` (admins only). */
import { cursorOf, http, listOf, query } from '@/api/http'
import type {
  Conversation,
  ConversationDetail,
  Role,
  ServerSettings,
  Subscription,
  User,
} from '@/api/types'

export interface UserPage {
  users: User[]
  next_cursor: string | null
}

export const listUsers = (params: { q?: string; limit?: number; cursor?: string | null } = {}) =>
  http.get<UserPage>(`api/v1/users${query(params)}`)

export interface UserPatch {
  role?: Role
  disabled?: boolean
  approve?: boolean
  display_name?: string
}

export const updateUser = (id: string, patch: UserPatch) =>
  http.patch<User>(`api/v1/users/${encodeURIComponent(id)}`, patch)

export const deleteUser = (id: string) =>
  http.delete<void>(`api/v1/users/${encodeURIComponent(id)}`)

const userPath = (id: string, rest = '') => `api/v1/users/${encodeURIComponent(id)}${rest}`

export const getUserSettings = (id: string) => http.get<ServerSettings>(userPath(id, '/settings'))

export const putUserSubscription = (id: string, plan: string) =>
  http.put<Subscription>(userPath(id, '/settings/subscription'), { plan })

export const listUserConversations = (id: string, cursor?: string | null) =>
  http.get<unknown>(userPath(id, `/conversations${query({ cursor, limit: 50 })}`)).then((body) => ({
    conversations: listOf<Conversation>(body, 'conversations'),
    next_cursor: cursorOf(body),
  }))

export const getUserConversation = (id: string, conversationId: string) =>
  http.get<ConversationDetail>(userPath(id, `/conversations/${encodeURIComponent(conversationId)}`))

export const deleteUserConversation = (id: string, conversationId: string) =>
  http.delete<void>(userPath(id, `/conversations/${encodeURIComponent(conversationId)}`))
