import { defineStore } from 'pinia'
import { computed, ref } from 'vue'

import { toApiErrorValue, type ApiError } from '@/api/http'
import { listModels } from '@/api/models'
import type { Model } from '@/api/types'

/** The models a user may pick (enabled models of enabled connections). */
export const useModelsStore = defineStore('models', () => {
  const models = ref<Model[]>([])
  const loaded = ref(false)
  const loading = ref(false)
  const error = ref<ApiError | null>(null)

  const available = computed(() => models.value.filter((m) => m.available !== false))

  async function load(): Promise<void> {
    loading.value = true
    try {
      models.value = await listModels()
      error.value = null
    } catch (e) {
      error.value = toApiErrorValue(e)
    } finally {
      loading.value = false
      loaded.value = true
    }
  }

  function byId(id: string | null | undefined): Model | undefined {
    return id ? models.value.find((m) => m.id === id) : undefined
  }

  /** The model to use: the wanted one if it is available, else the first available. */
  function pick(...wanted: (string | null | undefined)[]): string | null {
    for (const id of wanted) {
      if (id && available.value.some((m) => m.id === id)) return id
    }
    return available.value[0]?.id ?? null
  }

  return { models, available, loaded, loading, error, load, byId, pick }
})
