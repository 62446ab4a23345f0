/** The prompt library: `/api/v1/prompts` (read by everyone, managed by admins). */
import { http, listOf } from '@/api/http'
import type { Prompt } from '@/api/types'

export interface PromptInput {
  title: string
  content: string
  category?: string | null
  tags?: string[]
}

const path = (id: string) => `api/v1/prompts/${encodeURIComponent(id)}`

export const listPrompts = () =>
  http.get<unknown>('api/v1/prompts').then((body) => listOf<Prompt>(body, 'prompts'))

export const createPrompt = (input: PromptInput) => http.post<Prompt>('api/v1/prompts', input)

export const updatePrompt = (id: string, input: PromptInput) => http.put<Prompt>(path(id), input)

export const deletePrompt = (id: string) => http.delete<void>(path(id))
