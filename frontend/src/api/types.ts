/** The server's JSON shapes (SPEC §3), shared by api/*.ts and the stores. */

export type Role = 'admin' | 'user'
export type UserStatus = 'active' | 'pending' | 'disabled'

export interface User {
  id: string
  username: string
  display_name: string
  role: Role
  status: UserStatus
  created_at: string
  updated_at: string
}

export interface ApiKey {
  id: string
  client_name: string
  prefix: string
  created_at: string
  expires_at: string | null
  last_used_at: string | null
}

export interface CreatedApiKey {
  id: string
  api_key: string
  client_name: string
  prefix: string
  created_at: string
  expires_at: string | null
}

export type RegistrationMode = 'open' | 'approval' | 'closed'

export interface AdminSettings {
  registration_mode: RegistrationMode
  backup_daily?: boolean
  backup_keep?: number
  backup_dir?: string
  backup_last_at?: string | null
  backup_last_error?: string | null
  [key: string]: unknown
}

/** `GET /api/v1/admin/status` */
export interface ServerStatus {
  version: string
  uptime_seconds: number
  started_at: string
  database_path: string
  database_bytes: number
  free_disk_bytes: number | null
  active_generations: number
  connections: {
    id: string
    name: string
    kind: string
    enabled: boolean
    last_error: string | null
    last_error_at: string | null
  }[]
}

export interface AuditEntry {
  id: string
  actor_id: string | null
  actor_name: string | null
  action: string
  target: string | null
  detail: unknown
  created_at: string
}

export interface Model {
  id: string
  name: string
  vendor: string
  description: string
  connection_id: string
  context_window: number | null
  available: boolean
}

export type ConnectionKind = 'openai' | 'azure' | 'anthropic'

export interface ConnectionModel {
  id: string
  name: string
  vendor: string
  description: string
  context_window: number | null
  enabled: boolean
}

export interface Connection {
  id: string
  name: string
  kind: ConnectionKind
  base_url: string
  api_key: string | null
  no_proxy: boolean
  enabled: boolean
  models: ConnectionModel[]
  created_at: string
  updated_at: string
}

export interface ConnectionInput {
  name?: string
  kind?: ConnectionKind
  base_url?: string
  api_key?: string
  no_proxy?: boolean
  enabled?: boolean
  models?: ConnectionModel[]
}

export interface ConnectionTest {
  ok: boolean
  models: ConnectionModel[]
  error?: string
}

export interface Conversation {
  id: string
  title: string
  model_id: string | null
  pinned: boolean
  archived: boolean
  message_count: number
  created_at: string
  updated_at: string
}

export type MessageRole = 'user' | 'assistant' | 'system'
export type MessageStatus = 'complete' | 'streaming' | 'stopped' | 'error'

export interface Feedback {
  rating: 'up' | 'down'
  comment?: string | null
}

export interface Message {
  id: string
  idx: number
  role: MessageRole
  content: string
  model_id: string | null
  status: MessageStatus
  error?: string | null
  parent_id: string | null
  sibling_ids: string[]
  usage?: { prompt_tokens: number; completion_tokens: number } | null
  feedback?: Feedback | null
  created_at: string
  updated_at: string
}

export interface ConversationDetail extends Conversation {
  system_prompt: string | null
  current_message_id: string | null
  messages: Message[]
}
