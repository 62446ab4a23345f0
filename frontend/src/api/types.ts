/** The server's JSON shapes (SPEC §3), shared by api/*.ts and the stores. */
import type { components } from './schema'

/**
 * The shapes the OpenAPI document (`openapi.json`, printed by `daehwa openapi`) describes are
 * aliases of the generated `schema.d.ts` (`npm run gen:types`); a few fields are narrowed
 * where the document only says `string`. To adopt a new schema: add one line
 * `export type X = Schemas['X']` and delete the hand-written type of the same name.
 */
export type Schemas = components['schemas']

/** A generated shape with some fields narrowed or added. */
type With<T, Fields> = Omit<T, keyof Fields> & Fields

export type Role = 'admin' | 'user'
export type UserStatus = 'active' | 'pending' | 'disabled'
export type ConnectionKind = 'openai' | 'azure' | 'anthropic'
export type MessageRole = Schemas['MessageRole']
export type MessageStatus = Schemas['MessageStatus']
export type RegistrationMode = 'open' | 'approval' | 'closed'

/** How an account signs in (issue 22; the server's `user.external_issuer`). */
export type AuthMethod = 'local' | 'ldap' | 'oidc' | 'proxy' | 'token' | 'exchange'
/**
 * `auth_method` and `email` (issue 22) are optional here until the generated schema has them:
 * an older server does not send them.
 */
export type User = With<
  Schemas['User'],
  { role: Role; status: UserStatus; auth_method?: AuthMethod; email?: string | null }
>
export type AuditEntry = Schemas['AuditEntry']
/** `vision` (issue 20): the model sees images (the admin's choice, or a guess from the name). */
export type Model = With<Schemas['Model'], { vision?: boolean }>
/** `vision` (issue 20): true / false as the admin set it, null = guessed from the name. */
export type ConnectionModel = With<Schemas['ConnectionModel'], { vision?: boolean | null }>
export type Connection = With<
  Schemas['Connection'],
  { kind: ConnectionKind; models: ConnectionModel[] }
>
export type ConnectionTest = Schemas['ConnectionTest']
export type DiscoveredModel = Schemas['DiscoveredModel']
/**
 * Issue 21's fields of a conversation: its folder, its tags and whether it is a temporary chat
 * (optional here until the generated schema has them).
 */
export interface OrganizeFields {
  folder_id?: string | null
  tags?: string[]
  temporary?: boolean
}
/** A conversation in the list (the document's `ConversationItem`). */
export type Conversation = With<Schemas['ConversationItem'], OrganizeFields>
export type Feedback = With<Schemas['Feedback'], { rating: 'up' | 'down' }>
export type Usage = Schemas['Usage']
export type Message = With<
  Schemas['Message'],
  {
    feedback?: Feedback | null
    /** None on the placeholders the app shows until the server answers. */
    usage?: Usage | null
    /** The collector items sent with this (user) message. */
    context?: MessageContextItem[] | null
    /** The files sent with this (user) message (issue 20; empty when none). */
    files?: StoredFile[]
  }
>
/** One conversation with its messages (the document's `ConversationWithMessages`). */
export type ConversationDetail = With<
  Schemas['ConversationWithMessages'],
  { messages: Message[]; system_prompt: string | null } & OrganizeFields
>
/** The `message` event of a streamed answer: the saved question and the empty answer. */
export type StreamCreated = Schemas['StreamCreated']
/** A `delta` event of a streamed answer. */
export type StreamDelta = Schemas['StreamDelta']
/** The `error` event of a streamed answer. */
export type StreamFailed = Schemas['StreamFailed']
/** A finished exchange (a question asked without `stream`). */
export type Exchange = Schemas['Exchange']
export type Stopped = Schemas['Stopped']
export type FeedbackSaved = Schemas['FeedbackSaved']
/** What `GET /conversations/{id}/export?format=json` writes and `POST /conversations/import` reads. */
export type ExportDocument = Schemas['ExportDocument']
/** A model row being edited: a discovered model has no `upstream_id` or `description` yet. */
export type ModelDraft = With<ConnectionModel, { upstream_id?: string; description?: string }>

// not in the OpenAPI document yet
/**
 * A file uploaded with `POST /files` (issue 20), as the server answers it and as messages
 * carry it (`files`). Named `StoredFile` so it does not hide the DOM's `File`.
 */
export interface StoredFile {
  id: string
  name: string
  size: number
  mime: string
  kind: 'image' | 'document'
  /** Images only: the original size in pixels. */
  width?: number | null
  height?: number | null
  /** Documents: how many characters of text were extracted. */
  text_chars?: number
  /** A document whose text could not be read (still stored): the server's sentence. */
  extract_error?: string | null
  created_at: string
}

// not in the OpenAPI document yet
/** `GET /files`: the caller's files, newest first, with their room. */
export interface StoredFileList {
  files: StoredFile[]
  next_cursor: string | null
  used_bytes: number
  quota_bytes: number
  max_file_bytes: number
}

// not in the OpenAPI document yet
export interface ApiKey {
  id: string
  client_name: string
  prefix: string
  created_at: string
  expires_at: string | null
  last_used_at: string | null
}

// not in the OpenAPI document yet
export interface CreatedApiKey {
  id: string
  api_key: string
  client_name: string
  prefix: string
  created_at: string
  expires_at: string | null
}

// not in the OpenAPI document yet
export interface AdminSettings {
  registration_mode: RegistrationMode
  backup_daily?: boolean
  backup_keep?: number
  backup_dir?: string
  backup_last_at?: string | null
  backup_last_error?: string | null
  /** Largest file a user may upload, in bytes (issue 20). */
  file_max_bytes?: number
  /** Room for each user's stored files, in bytes (issue 20). */
  file_quota_bytes?: number
  /** Days after which unarchived conversations are deleted (null = off; issue 21). */
  retention_days?: number | null
  /** Days after which archived conversations are deleted (null = off; issue 21). */
  retention_archived_days?: number | null
  [key: string]: unknown
}

// not in the OpenAPI document yet
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

// not in the OpenAPI document yet
export interface ConnectionInput {
  name?: string
  kind?: ConnectionKind
  base_url?: string
  api_key?: string
  no_proxy?: boolean
  enabled?: boolean
  models?: ModelDraft[]
}

/** A collector item a question carried; `truncated`: only its start fitted the context budget. */
export type MessageContextItem = With<Schemas['ContextItem'], { truncated?: boolean }>

// not in the OpenAPI document yet
export type Theme = 'light' | 'dark' | 'system'

// not in the OpenAPI document yet
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

// not in the OpenAPI document yet
/** `GET /user/settings` (and an admin's `GET /users/{id}/settings`). */
export interface ServerSettings {
  theme: Theme
  language: 'ko' | 'en'
  default_model_id: string | null
  system_prompt: string | null
  notification: { on_complete: boolean; sound: boolean }
  subscription: Subscription | null
  /** Issue 21: one of the user's groups makes every chat temporary. */
  temporary_chats_forced?: boolean
}

// not in the OpenAPI document yet
export interface Share {
  id: string
  url: string
  title: string
  conversation_id?: string
  created_at: string
  expires_at: string | null
}

// not in the OpenAPI document yet
/** `GET /shares/{id}`: the read-only snapshot. */
export interface SharedConversation extends Share {
  messages: Message[]
  owner_name?: string | null
  model_id?: string | null
}

// not in the OpenAPI document yet
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

// not in the OpenAPI document yet
export interface Prompt {
  id: string
  title: string
  content: string
  category: string | null
  tags: string[]
  /** Shipped in the binary (read-only) rather than admin-managed, when the server says so. */
  builtin?: boolean
}

// not in the OpenAPI document yet
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

// not in the OpenAPI document yet
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

// not in the OpenAPI document yet
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

// not in the OpenAPI document yet
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

// not in the OpenAPI document yet (issue 21)
/** A folder of conversations (one level of subfolders). */
export interface Folder {
  id: string
  name: string
  parent_id: string | null
  conversation_count: number
  created_at: string
  updated_at: string
}

// not in the OpenAPI document yet (issue 21)
/** `GET /tags`: a tag and how many (non-temporary) conversations carry it. */
export interface TagCount {
  name: string
  count: number
}

// not in the OpenAPI document yet (issue 21)
/** `GET /admin/retention/preview` */
export interface RetentionPreview {
  conversations: number
  archived_conversations: number
  users: number
}

// not in the OpenAPI document yet (issue 21)
/** `POST /admin/retention/run` */
export interface RetentionRun {
  conversations: number
  archived_conversations: number
}

// not in the OpenAPI document yet (issue 21)
export interface GroupMember {
  id: string
  username: string
  display_name: string | null
  /** Issue 22: `directory` when the directory sign-in made the membership. */
  source?: 'manual' | 'directory'
}

// not in the OpenAPI document yet (issue 21)
/** A group of users (admins): the models it grants, its plan, temporary chats only. */
export interface Group {
  id: string
  name: string
  description: string | null
  plan_id: string | null
  temporary_chats: boolean
  model_ids: string[]
  member_count: number
  /** Issue 22: the directory's groups whose members join this group when they sign in. */
  directory_groups?: string[]
  created_at: string
  updated_at: string
  /** In `GET /admin/groups/{id}` only. */
  members?: GroupMember[]
}

// not in the OpenAPI document yet (issue 21)
/** `POST /conversations/import/chatgpt` */
export interface ChatGptImportResult {
  imported: number
  skipped: number
  attachments_skipped: number
  conversations: { id: string; title: string }[]
  problems: { title: string; reason: string }[]
}
