import { defineStore } from 'pinia'
import { ref } from 'vue'

import { getHealth, type Health } from '@/api/health'
import { ApiError } from '@/api/http'

export type HealthState = 'idle' | 'loading' | 'ok' | 'error'

/** The server's health, as shown on the home page. */
export const useHealthStore = defineStore('health', () => {
  const state = ref<HealthState>('idle')
  const health = ref<Health | null>(null)
  const error = ref<ApiError | null>(null)

  async function load(): Promise<void> {
    state.value = 'loading'
    error.value = null
    try {
      health.value = await getHealth()
      state.value = 'ok'
    } catch (e) {
      health.value = null
      error.value =
        e instanceof ApiError ? e : new ApiError(0, 'unknown_error', String((e as Error)?.message))
      state.value = 'error'
    }
  }

  return { state, health, error, load }
})
