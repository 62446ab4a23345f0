/**
 * Issue 21's admin routes: groups of users (`/api/v1/admin/groups`, the models and plan they
 * grant) and the retention policy's preview and run (`/api/v1/admin/retention/*`; the policy
 * itself is two fields of `/admin/settings`).
 */
import { http, query } from '@/api/http'
import type { Group, RetentionPreview, RetentionRun } from '@/api/types'

const groupPath = (id: string, rest = '') => `api/v1/admin/groups/${encodeURIComponent(id)}${rest}`

export interface GroupInput {
  name?: string
  description?: string
  plan_id?: string | null
  temporary_chats?: boolean
  model_ids?: string[]
  /** Issue 22: directory group names (DNs, claim or header values), one each. */
  directory_groups?: string[]
}

export const listGroups = () =>
  http.get<{ groups: Group[] }>('api/v1/admin/groups').then((body) => body.groups ?? [])

/** One group with its `members`. */
export const getGroup = (id: string) => http.get<Group>(groupPath(id))

export const createGroup = (input: GroupInput) => http.post<Group>('api/v1/admin/groups', input)

export const updateGroup = (id: string, patch: GroupInput) =>
  http.patch<Group>(groupPath(id), patch)

export const deleteGroup = (id: string) => http.delete<void>(groupPath(id))

/** Adds several users at once; answers how many were not members yet. */
export const addGroupMembers = (id: string, userIds: string[]) =>
  http.post<{ added: number }>(groupPath(id, '/members'), { user_ids: userIds })

export const removeGroupMember = (id: string, userId: string) =>
  http.delete<void>(groupPath(id, `/members/${encodeURIComponent(userId)}`))

/** What a run with these values would delete now (null = that kind off). */
export const previewRetention = (days: number | null, archivedDays: number | null) =>
  http.get<RetentionPreview>(
    `api/v1/admin/retention/preview${query({ days, archived_days: archivedDays })}`,
  )

/** Runs the stored policy now. */
export const runRetention = () => http.post<RetentionRun>('api/v1/admin/retention/run')
