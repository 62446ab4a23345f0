/** Example conversations curated by admins: `/api/v1/samples`. */
import { http, listOf } from '@/api/http'
import type { Conversation, Sample } from '@/api/types'

const path = (id: string, rest = '') => `api/v1/samples/${encodeURIComponent(id)}${rest}`

export const listSamples = () =>
  http.get<unknown>('api/v1/samples').then((body) => listOf<Sample>(body, 'samples'))

export const getSample = (id: string) => http.get<Sample>(path(id))

export const cloneSample = (id: string) => http.post<Conversation>(path(id, '/clone'))

/** Admins: publish one of their conversations as a sample. */
export const publishSample = (input: {
  conversation_id: string
  title?: string
  description?: string
}) => http.post<Sample>('api/v1/samples', input)

export const deleteSample = (id: string) => http.delete<void>(path(id))
