/** Server-wide settings, the audit log and LLM connections: `/api/v1/admin/*` (admins only). */
import { cursorOf, http, listOf, query } from '@/api/http'
import type {
  AdminSettings,
  AuditEntry,
  Connection,
  ConnectionInput,
  ConnectionTest,
  FeedbackEntry,
  Plan,
  UsageRow,
  ServerStatus,
} from '@/api/types'

export const getAdminSettings = () => http.get<AdminSettings>('api/v1/admin/settings')

export const putAdminSettings = (settings: Partial<AdminSettings>) =>
  http.put<AdminSettings>('api/v1/admin/settings', settings)

export const getServerStatus = () => http.get<ServerStatus>('api/v1/admin/status')

export const listAudit = (params: { limit?: number; cursor?: string | null } = {}) =>
  http.get<unknown>(`api/v1/admin/audit${query(params)}`).then((body) => ({
    entries: listOf<AuditEntry>(body, 'entries'),
    next_cursor: cursorOf(body),
  }))

export type PlanInput = Omit<Plan, 'id' | 'created_at' | 'updated_at' | 'current'>

export const listPlans = () =>
  http.get<unknown>('api/v1/admin/plans').then((body) => listOf<Plan>(body, 'plans'))

export const createPlan = (input: PlanInput) => http.post<Plan>('api/v1/admin/plans', input)

export const updatePlan = (id: string, input: PlanInput) =>
  http.put<Plan>(`api/v1/admin/plans/${encodeURIComponent(id)}`, input)

export const deletePlan = (id: string) =>
  http.delete<void>(`api/v1/admin/plans/${encodeURIComponent(id)}`)

export const listFeedback = (params: { limit?: number; cursor?: string | null } = {}) =>
  http.get<unknown>(`api/v1/admin/feedback${query(params)}`).then((body) => ({
    feedback: listOf<FeedbackEntry>(body, 'feedback'),
    next_cursor: cursorOf(body),
  }))

/** Usage between two days (`YYYY-MM-DD`, both included). */
export const getUsage = (params: { from: string; to: string; cursor?: string | null }) =>
  http.get<unknown>(`api/v1/admin/usage${query({ ...params, limit: 200 })}`).then((body) => ({
    // `items`: per user and model (the answer also has `days`, totals per day).
    usage: listOf<UsageRow>(body, 'items'),
    next_cursor: cursorOf(body),
  }))

export const listConnections = () =>
  http.get<{ connections: Connection[] }>('api/v1/admin/connections').then((r) => r.connections)

export const createConnection = (input: ConnectionInput) =>
  http.post<Connection>('api/v1/admin/connections', input)

export const updateConnection = (id: string, input: ConnectionInput) =>
  http.put<Connection>(`api/v1/admin/connections/${encodeURIComponent(id)}`, input)

export const deleteConnection = (id: string) =>
  http.delete<void>(`api/v1/admin/connections/${encodeURIComponent(id)}`)

export const testConnection = (id: string) =>
  http.post<ConnectionTest>(`api/v1/admin/connections/${encodeURIComponent(id)}/test`)
