import { defineStore } from 'pinia'
import { computed, ref } from 'vue'

import { toApiErrorValue, type ApiError } from '@/api/http'
import * as api from '@/api/prompts'
import type { Prompt } from '@/api/types'
import { i18n } from '@/i18n'
import { byLanguage } from '@/lib/prompts'

/**
 * The prompt library (shipped prompts plus the admins' own), loaded once when first needed.
 * `prompts` lists the UI language's prompts first (it follows a language switch).
 */
export const usePromptsStore = defineStore('prompts', () => {
  const all = ref<Prompt[]>([])
  const prompts = computed(() => byLanguage(all.value, i18n.global.locale.value))
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)
  let loading: Promise<void> | null = null

  function load(force = false): Promise<void> {
    if (loaded.value && !force) return Promise.resolve()
    if (!loading || force) {
      loading = api
        .listPrompts()
        .then((list) => {
          all.value = list
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
