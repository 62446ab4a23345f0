/** The user's collector (saved reference material): `/api/v1/collector/items`. */
import { cursorOf, http, listOf, query } from '@/api/http'
import type { CollectorItem } from '@/api/types'

export interface CollectorInput {
  title: string
  content: string
  url?: string | null
  tags?: string[]
  source_message_id?: string
}

const path = (id: string) => `api/v1/collector/items/${encodeURIComponent(id)}`

export const listItems = (params: { q?: string; tag?: string; cursor?: string | null } = {}) =>
  http.get<unknown>(`api/v1/collector/items${query({ ...params, limit: 50 })}`).then((body) => ({
    items: listOf<CollectorItem>(body, 'items'),
    next_cursor: cursorOf(body),
  }))

export const getItem = (id: string) => http.get<CollectorItem>(path(id))

/** Every tag in use, with how many items carry it. */
export const listTags = () =>
  http
    .get<unknown>('api/v1/collector/tags')
    .then((body) => listOf<{ tag: string; count: number }>(body, 'tags'))

export const createItem = (input: CollectorInput) =>
  http.post<CollectorItem>('api/v1/collector/items', input)

/** Multipart upload of one text file (field `file`, optional `title` and `tags`). */
export function uploadItem(file: File, tags: string[] = []): Promise<CollectorItem> {
  const form = new FormData()
  form.append('file', file, file.name)
  if (tags.length) form.append('tags', tags.join(','))
  return http.upload<CollectorItem>('api/v1/collector/items', form)
}

export const updateItem = (id: string, input: Partial<CollectorInput>) =>
  http.put<CollectorItem>(path(id), input)

export const deleteItem = (id: string) => http.delete<void>(path(id))
