/** Server-wide settings, the audit log and LLM connections: `/api/v1/admin/*` (admins only). */
import { http, query } from '@/api/http'
import type {
  AdminSettings,
  AuditEntry,
  Connection,
  ConnectionInput,
  ConnectionTest,
  ServerStatus,
} from '@/api/types'

export const getAdminSettings = () => http.get<AdminSettings>('api/v1/admin/settings')

export const putAdminSettings = (settings: Partial<AdminSettings>) =>
  http.put<AdminSettings>('api/v1/admin/settings', settings)

export const getServerStatus = () => http.get<ServerStatus>('api/v1/admin/status')

export const listAudit = (params: { limit?: number; cursor?: string | null } = {}) =>
  http.get<{ entries: AuditEntry[]; next_cursor: string | null }>(
    `api/v1/admin/audit${query(params)}`,
  )

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
