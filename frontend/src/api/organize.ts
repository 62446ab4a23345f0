/**
 * Organizing conversations (issue 21): folders (`/api/v1/folders`), tags (`/api/v1/tags`),
 * the immediate delete of a temporary chat when the tab goes away, and the import of a
 * ChatGPT export (`POST /conversations/import/chatgpt`, through XHR for its progress).
 */
import { apiUrl, getAccessToken, http, query } from '@/api/http'
import { uploadTo, type UploadOptions } from '@/api/files'
import type { ChatGptImportResult, Folder, TagCount } from '@/api/types'

const folderPath = (id: string) => `api/v1/folders/${encodeURIComponent(id)}`

export const listFolders = () =>
  http.get<{ folders: Folder[] }>('api/v1/folders').then((body) => body.folders ?? [])

export const createFolder = (input: { name: string; parent_id?: string | null }) =>
  http.post<Folder>('api/v1/folders', input)

export const updateFolder = (id: string, patch: { name?: string; parent_id?: string | null }) =>
  http.patch<Folder>(folderPath(id), patch)

/** Subfolders go with it; their conversations are deleted too, or become unfiled. */
export const deleteFolder = (id: string, deleteConversations: boolean) =>
  http.delete<void>(
    `${folderPath(id)}${query({ delete_conversations: deleteConversations ? 'true' : 'false' })}`,
  )

export const listTags = () =>
  http.get<{ tags: TagCount[] }>('api/v1/tags').then((body) => body.tags ?? [])

/**
 * `DELETE /conversations/{id}` that outlives the page (`keepalive`): for a temporary chat
 * when the tab closes. Fire and forget: the server deletes it within 24 h anyway.
 */
export function deleteConversationOnExit(id: string): void {
  const token = getAccessToken()
  try {
    void fetch(apiUrl(`api/v1/conversations/${encodeURIComponent(id)}`), {
      method: 'DELETE',
      keepalive: true,
      headers: token ? { Authorization: `Bearer ${token}` } : {},
    }).catch(() => undefined)
  } catch {
    // no fetch (an old browser, a test): the server's sweep deletes it
  }
}

/** The ZIP (or `conversations.json`) of a ChatGPT data export → new conversations. */
export const importChatGpt = (file: Blob & { name?: string }, options: UploadOptions = {}) =>
  uploadTo<ChatGptImportResult>('api/v1/conversations/import/chatgpt', file, options)
