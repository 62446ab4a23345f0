import { defineStore } from 'pinia'
import { computed, ref } from 'vue'

import * as api from '@/api/conversations'
import { toApiErrorValue, type ApiError } from '@/api/http'
import type { Conversation } from '@/api/types'
import { groupConversations } from '@/lib/dateGroups'
import { searchKeywords } from '@/lib/keys'

/** The sidebar: the user's conversations, the keyword search, and the list actions. */
export const useConversationsStore = defineStore('conversations', () => {
  const items = ref<Conversation[]>([])
  const nextCursor = ref<string | null>(null)
  const search = ref('')
  const showArchived = ref(false)
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)
  let generation = 0
  // Ids deleted in this session: a list answer computed before the delete must not
  // bring them back.
  const deleted = new Set<string>()

  const groups = computed(() =>
    showArchived.value || search.value.trim()
      ? [{ key: 'results' as const, conversations: items.value }]
      : groupConversations(items.value),
  )

  function params(cursor: string | null = null): api.ConversationQuery {
    const q = searchKeywords(search.value)
    return {
      q: q || undefined,
      archived: showArchived.value,
      limit: 50,
      cursor,
    }
  }

  /** (Re)loads the first page; an answer overtaken by a newer load is dropped. */
  async function load(): Promise<void> {
    const mine = ++generation
    loading.value = true
    try {
      const page = await api.listConversations(params())
      if (mine !== generation) return
      items.value = page.conversations.filter((c) => !deleted.has(c.id))
      nextCursor.value = page.next_cursor
      error.value = null
    } catch (e) {
      if (mine === generation) error.value = toApiErrorValue(e)
    } finally {
      if (mine === generation) {
        loading.value = false
        loaded.value = true
      }
    }
  }

  async function loadMore(): Promise<void> {
    if (!nextCursor.value || loading.value) return
    const mine = generation
    loading.value = true
    try {
      const page = await api.listConversations(params(nextCursor.value))
      if (mine !== generation) return
      const known = new Set(items.value.map((c) => c.id))
      items.value.push(...page.conversations.filter((c) => !known.has(c.id) && !deleted.has(c.id)))
      nextCursor.value = page.next_cursor
    } catch (e) {
      error.value = toApiErrorValue(e)
    } finally {
      loading.value = false
    }
  }

  /** Puts a conversation (new or changed) in place, newest first. */
  function upsert(conversation: Conversation): void {
    const index = items.value.findIndex((c) => c.id === conversation.id)
    if (index >= 0) items.value.splice(index, 1)
    if (conversation.archived !== showArchived.value) return
    items.value.unshift(conversation)
    items.value.sort((a, b) => b.updated_at.localeCompare(a.updated_at))
  }

  function remove(id: string): void {
    items.value = items.value.filter((c) => c.id !== id)
  }

  /**
   * A load still in flight when a change lands may have been answered before it:
   * load again, so the newest load (the one kept) sees the change.
   */
  function reloadIfStale(): void {
    if (loading.value) void load()
  }

  async function patch(id: string, change: api.ConversationPatch): Promise<Conversation> {
    const updated = await api.updateConversation(id, change)
    const index = items.value.findIndex((c) => c.id === id)
    if (index >= 0 && updated.archived !== showArchived.value) remove(id)
    else if (index >= 0) items.value.splice(index, 1, updated)
    reloadIfStale()
    return updated
  }

  const rename = (id: string, title: string) => patch(id, { title })
  const setPinned = (id: string, pinned: boolean) => patch(id, { pinned })
  const setArchived = (id: string, archived: boolean) => patch(id, { archived })

  async function destroy(id: string): Promise<void> {
    await api.deleteConversation(id)
    deleted.add(id)
    remove(id)
    reloadIfStale()
  }

  function reset(): void {
    generation++
    items.value = []
    nextCursor.value = null
    search.value = ''
    showArchived.value = false
    loaded.value = false
  }

  return {
    items,
    nextCursor,
    search,
    showArchived,
    loading,
    loaded,
    error,
    groups,
    load,
    loadMore,
    upsert,
    remove,
    rename,
    setPinned,
    setArchived,
    destroy,
    reset,
  }
})
