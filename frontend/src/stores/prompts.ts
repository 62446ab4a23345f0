import { defineStore } from 'pinia'
import { ref } from 'vue'

import { toApiErrorValue, type ApiError } from '@/api/http'
import * as api from '@/api/prompts'
import type { Prompt } from '@/api/types'

/** The prompt library (shipped prompts plus the admins' own), loaded once when first needed. */
export const usePromptsStore = defineStore('prompts', () => {
  const prompts = ref<Prompt[]>([])
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)
  let loading: Promise<void> | null = null

  function load(force = false): Promise<void> {
    if (loaded.value && !force) return Promise.resolve()
    if (!loading || force) {
      loading = api
        .listPrompts()
        .then((list) => {
          prompts.value = list
          loaded.value = true
          error.value = null
        })
        .catch((e: unknown) => {
          error.value = toApiErrorValue(e)
        })
        .finally(() => {
          loading = null
        })
    }
    return loading
  }

  return { prompts, loaded, error, load }
})
