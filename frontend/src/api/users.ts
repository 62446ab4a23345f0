/** Administration of accounts: `/api/v1/users` (admins only). */
import { http, query } from '@/api/http'
import type { Role, User } from '@/api/types'

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
