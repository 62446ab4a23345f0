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
  /** Collector items that went to the model with this (user) message, as the server records them. */
  context?: MessageContextItem[] | null
  created_at: string
  updated_at: string
}

export interface MessageContextItem {
  collector_item_id: string
  title: string
  /** Only the start of the item fitted the model's context budget. */
  truncated?: boolean
}

export interface ConversationDetail extends Conversation {
  system_prompt: string | null
  current_message_id: string | null
  messages: Message[]
}

export type Theme = 'light' | 'dark' | 'system'

export interface Subscription {
  /** The plan's name (null: no plan, no limits). */
  plan: string | null
  plan_id?: string | null
  daily_message_limit: number | null
  /** Model ids; empty = every model. */
  allowed_models: string[]
  self_service?: boolean
  /** Messages sent today (UTC), counted against the daily limit. */
  used_today?: number
  /** When the daily count starts again (next UTC midnight). */
  renews_at: string | null
}

/** `GET /user/settings` (and an admin's `GET /users/{id}/settings`). */
export interface ServerSettings {
  theme: Theme
  language: 'ko' | 'en'
  default_model_id: string | null
  system_prompt: string | null
  notification: { on_complete: boolean; sound: boolean }
  subscription: Subscription | null
}

export interface Share {
  id: string
  url: string
  title: string
  conversation_id?: string
  created_at: string
  expires_at: string | null
}

/** `GET /shares/{id}`: the read-only snapshot. */
export interface SharedConversation extends Share {
  messages: Message[]
  owner_name?: string | null
  model_id?: string | null
}

export interface Sample {
  id: string
  title: string
  description: string | null
  conversation_id?: string
  model_id?: string | null
  message_count?: number
  created_at: string
  messages?: Message[]
}

export interface Prompt {
  id: string
  title: string
  content: string
  category: string | null
  tags: string[]
  /** Shipped in the binary (read-only) rather than admin-managed, when the server says so. */
  builtin?: boolean
}

export interface CollectorItem {
  id: string
  title: string
  /** The whole text: in `GET /collector/items/{id}`, not in lists (they carry `excerpt`). */
  content?: string
  /** The first 300 characters, in lists. */
  excerpt?: string
  filename?: string | null
  size?: number | null
  url: string | null
  tags: string[]
  source_message_id: string | null
  created_at: string
  updated_at: string
}

export interface Plan {
  id: string
  name: string
  daily_message_limit: number | null
  allowed_models: string[]
  self_service: boolean
  /** Applies to users without an assigned plan (at most one). */
  is_default?: boolean
  /** In `GET /plans`: the signed-in user's current plan. */
  current?: boolean
  created_at?: string
  updated_at?: string
}

export interface FeedbackEntry {
  id: string
  user_id: string
  username?: string | null
  conversation_id: string
  message_id: string
  rating: 'up' | 'down'
  comment: string | null
  created_at: string
}

/** One row of `GET /admin/usage`: a user's use of one model (on one day, when given). */
export interface UsageRow {
  user_id: string
  username?: string | null
  model_id: string | null
  day?: string | null
  messages: number
  prompt_tokens: number
  completion_tokens: number
}
