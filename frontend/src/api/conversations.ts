/** Conversations and messages: `/api/v1/conversations/*`, streams included. */
import { fetchBlob } from '@/api/files'
import { http, query } from '@/api/http'
import { streamSse, type SseEvent } from '@/api/sse'
import type { Conversation, ConversationDetail, Feedback, Message } from '@/api/types'

export interface ConversationQuery {
  q?: string
  archived?: boolean
  pinned?: boolean
  limit?: number
  cursor?: string | null
  /** A folder's id, or `none` for the unfiled ones only (issue 21); absent = all. */
  folder_id?: string
  /** Tags that must all match (`?tag=a&tag=b`, issue 21). */
  tag?: string[]
}

export interface ConversationPage {
  conversations: Conversation[]
  next_cursor: string | null
}

const path = (id: string, rest = '') => `api/v1/conversations/${encodeURIComponent(id)}${rest}`

/** The list's query string; `tag` repeats (`?tag=a&tag=b`). */
export function listQuery(params: ConversationQuery = {}): string {
  const { tag, ...rest } = params
  const base = query({ ...rest })
  const tags = (tag ?? []).map((name) => `tag=${encodeURIComponent(name)}`).join('&')
  if (!tags) return base
  return base ? `${base}&${tags}` : `?${tags}`
}

export const listConversations = (params: ConversationQuery = {}) =>
  http.get<ConversationPage>(`api/v1/conversations${listQuery(params)}`)

export const createConversation = (input: {
  title?: string
  model_id?: string
  system_prompt?: string
  /** A temporary chat (issue 21): never listed, deleted within 24 h. */
  temporary?: boolean
}) => http.post<Conversation>('api/v1/conversations', input)

export const getConversation = (id: string) => http.get<ConversationDetail>(path(id))

export interface ConversationPatch {
  title?: string
  pinned?: boolean
  archived?: boolean
  model_id?: string
  system_prompt?: string
  current_message_id?: string
  /** The caller's folder, or null to take it out of its folder (issue 21). */
  folder_id?: string | null
  /** Replaces the conversation's tags (issue 21). */
  tags?: string[]
}

export const updateConversation = (id: string, patch: ConversationPatch) =>
  http.patch<Conversation>(path(id), patch)

export const deleteConversation = (id: string) => http.delete<void>(path(id))

/** Answers `{message}`: the stopped message object (or, from older servers, a text). */
export const stopGeneration = (id: string) =>
  http.post<{ message?: Message | string }>(path(id, '/stop'))

export const deleteLastExchange = (id: string) => http.delete<void>(path(id, '/messages/last'))

/**
 * Rates an answer. `reasons` and `comment` are sent only when given (a plain thumbs up/down
 * is `{message_id, rating}`, which every server version takes).
 */
export const sendFeedback = (
  id: string,
  message_id: string,
  rating: 'up' | 'down',
  details: { reasons?: string[]; comment?: string } = {},
) =>
  http.post<Partial<Feedback> | undefined>(path(id, '/feedback'), {
    message_id,
    rating,
    ...(details.reasons?.length ? { reasons: details.reasons } : {}),
    ...(details.comment?.trim() ? { comment: details.comment.trim() } : {}),
  })

export interface StreamHandlers {
  onEvent: (event: SseEvent) => void
  signal?: AbortSignal
}

/** A conversation as a file: JSON (can be imported again) or Markdown. */
export const exportConversation = (id: string, format: 'json' | 'markdown') =>
  http.text(path(id, `/export${query({ format })}`))

/** `GET …/export?format=zip`: `conversation.json`, `conversation.md` and `files/` (issue 20). */
export const exportConversationZip = (id: string) =>
  fetchBlob(path(id, `/export${query({ format: 'zip' })}`))

/** POST /conversations/import with an exported JSON document: a new conversation. */
export const importConversation = (document: unknown) =>
  http.post<Conversation>('api/v1/conversations/import', document)

/** POST …/messages with `stream: true`. */
export const streamSend = (
  id: string,
  body: {
    content: string
    model_id?: string
    /** 2–3 distinct models answering side by side (instead of `model_id`). */
    model_ids?: string[]
    collector_item_ids?: string[]
    file_ids?: string[]
  },
  handlers: StreamHandlers,
) => streamSse(path(id, '/messages'), { ...body, stream: true }, handlers)

/** PATCH …/messages/last: edit the last question and answer it again. */
export const streamEditLast = (
  id: string,
  body: { content: string; model_id?: string },
  handlers: StreamHandlers,
) =>
  streamSse(path(id, '/messages/last'), { ...body, stream: true }, { ...handlers, method: 'PATCH' })

/** PATCH …/messages/{message_id}: rewrite any earlier question; a new branch from there. */
export const streamEditMessage = (
  id: string,
  messageId: string,
  body: { content: string; model_id?: string },
  handlers: StreamHandlers,
) =>
  streamSse(
    path(id, `/messages/${encodeURIComponent(messageId)}`),
    { ...body, stream: true },
    { ...handlers, method: 'PATCH' },
  )

/** POST …/regenerate: a new answer to the last question. */
export const streamRegenerate = (
  id: string,
  body: { model_id?: string },
  handlers: StreamHandlers,
) => streamSse(path(id, '/regenerate'), { ...body, stream: true }, handlers)

/** GET …/stream: join (or resume after `lastEventId`) the generation in progress. */
export const streamAttach = (
  id: string,
  handlers: StreamHandlers & { lastEventId?: string | null },
) => streamSse(path(id, '/stream'), undefined, handlers)
