import { defineStore } from 'pinia'
import { ref } from 'vue'

import { toApiErrorValue, type ApiError } from '@/api/http'
import * as api from '@/api/organize'
import type { TagCount } from '@/api/types'
import { useConversationsStore } from '@/stores/conversations'

/** The user's tags with their counts (`GET /tags`), and the sidebar's tag filter (issue 21). */
export const useTagsStore = defineStore('tags', () => {
  const tags = ref<TagCount[]>([])
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)

  async function load(): Promise<void> {
    try {
      tags.value = await api.listTags()
      error.value = null
    } catch (e) {
      error.value = toApiErrorValue(e)
    } finally {
      loaded.value = true
    }
  }

  /** Shows only the conversations tagged `name` (a second click on it clears the filter). */
  async function filterBy(name: string): Promise<void> {
    const list = useConversationsStore()
    const on = list.tagFilter.some((t) => t.toLowerCase() === name.toLowerCase())
    list.tagFilter = on ? [] : [name]
    await list.load()
  }

  async function clearFilter(name: string): Promise<void> {
    const list = useConversationsStore()
    list.tagFilter = list.tagFilter.filter((t) => t.toLowerCase() !== name.toLowerCase())
    await list.load()
  }

  function reset(): void {
    tags.value = []
    loaded.value = false
  }

  return { tags, loaded, error, load, filterBy, clearFilter, reset }
})
