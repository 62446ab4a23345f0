import { defineStore } from 'pinia'
import { computed, ref } from 'vue'

import * as api from '@/api/conversations'
import { onServerReachable, toApiErrorValue, type ApiError } from '@/api/http'
import type { Conversation } from '@/api/types'
import { groupConversations } from '@/lib/dateGroups'
import { searchKeywords } from '@/lib/keys'
import { splitSearch } from '@/lib/tags'
import { useFoldersStore } from '@/stores/folders'
import { useTagsStore } from '@/stores/tags'
import { useTemporaryStore } from '@/stores/temporary'

/** How long a deleted conversation can still be brought back ("Undo") before it is deleted. */
export const DELETE_DELAY_MS = 5000

/**
 * The ids whose delay was still running when the page went away (a reload, a closed tab):
 * the next start of the app in this tab deletes them. Ids only, no secret.
 */
const PENDING_KEY = 'daehwa.pendingDeletes'

function readPending(): string[] {
  try {
    const value: unknown = JSON.parse(sessionStorage.getItem(PENDING_KEY) ?? '[]')
    return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : []
  } catch {
    return []
  }
}

function writePending(ids: string[]): void {
  try {
    if (ids.length) sessionStorage.setItem(PENDING_KEY, JSON.stringify(ids))
    else sessionStorage.removeItem(PENDING_KEY)
  } catch {
    // storage disabled: a reload within the delay keeps the conversation
  }
}

interface PendingDelete {
  conversation: Conversation
  /** Where it was in the list, to put it back there. */
  index: number
  timer: ReturnType<typeof setTimeout>
  onError?: (error: ApiError) => void
}

/** The sidebar: the user's conversations, the keyword search, and the list actions. */
export const useConversationsStore = defineStore('conversations', () => {
  const items = ref<Conversation[]>([])
  const nextCursor = ref<string | null>(null)
  const search = ref('')
  const showArchived = ref(false)
  /** Tags picked in the sidebar's tag list (issue 21): every one must match. */
  const tagFilter = ref<string[]>([])
  const loading = ref(false)
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)

  /** A list that failed for want of a network loads again once the server answers. */
  function retryAfterNetworkError(): void {
    if (error.value?.code === 'network_error' && !loading.value) void load()
  }
  onServerReachable(retryAfterNetworkError)
  if (typeof window !== 'undefined') window.addEventListener('online', retryAfterNetworkError)
  let generation = 0
  // Ids deleted in this session: a list answer computed before the delete must not
  // bring them back.
  const deleted = new Set<string>()
  // Deletes waiting for their "Undo" delay, and those sent but not answered yet.
  const pending = new Map<string, PendingDelete>()
  const sending = new Set<string>()
  let replayed = false

  /** The tags the list is filtered by: those picked and the search's `tag:<name>` tokens. */
  const activeTags = computed(() => {
    const tags = [...tagFilter.value]
    for (const tag of splitSearch(search.value).tags) {
      if (!tags.some((t) => t.toLowerCase() === tag.toLowerCase())) tags.push(tag)
    }
    return tags
  })

  /** A search or a tag filter: the list shows results from every folder. */
  const filtered = computed(() => !!search.value.trim() || tagFilter.value.length > 0)

  /**
   * The plain list (no search, no tag, not the archive) shows the unfiled conversations only
   * (`?folder_id=none`): the filed ones are in their folders above it.
   */
  const plain = computed(() => !filtered.value && !showArchived.value)

  const groups = computed(() =>
    filtered.value
      ? [{ key: 'results' as const, conversations: items.value }]
      : showArchived.value
        ? [{ key: 'archived' as const, conversations: items.value }]
        : groupConversations(items.value),
  )

  function params(cursor: string | null = null): api.ConversationQuery {
    const q = searchKeywords(splitSearch(search.value).keywords)
    return {
      q: q || undefined,
      archived: showArchived.value,
      limit: 50,
      cursor,
      ...(activeTags.value.length ? { tag: activeTags.value } : {}),
      ...(plain.value ? { folder_id: 'none' } : {}),
    }
  }

  /** (Re)loads the first page; an answer overtaken by a newer load is dropped. */
  async function load(): Promise<void> {
    if (!replayed) {
      replayed = true
      replayStoredDeletes()
    }
    const mine = ++generation
    loading.value = true
    try {
      const page = await api.listConversations(params())
      if (mine !== generation) return
      items.value = page.conversations.filter((c) => !deleted.has(c.id) && !c.temporary)
      nextCursor.value = page.next_cursor
      error.value = null
      if (plain.value) useFoldersStore().refreshOpen()
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
    // A temporary chat is never listed (issue 21).
    if (conversation.temporary) return
    if (conversation.archived !== showArchived.value) return
    // A filed conversation lives in its folder, not in the plain list.
    if (plain.value && conversation.folder_id) {
      useFoldersStore().replace(conversation)
      useFoldersStore().putBack(conversation)
      return
    }
    items.value.unshift(conversation)
    items.value.sort((a, b) => b.updated_at.localeCompare(a.updated_at))
  }

  function remove(id: string): void {
    items.value = items.value.filter((c) => c.id !== id)
  }

  /** A conversation just filed in a folder or taken out of one (stores/folders.ts `move`). */
  function placeFiled(conversation: Conversation): void {
    const index = items.value.findIndex((c) => c.id === conversation.id)
    if (!plain.value) {
      if (index >= 0) items.value.splice(index, 1, conversation)
      return
    }
    if (conversation.folder_id) remove(conversation.id)
    else upsert(conversation)
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
    useFoldersStore().replace(updated)
    reloadIfStale()
    return updated
  }

  const rename = (id: string, title: string) => patch(id, { title })
  const setPinned = (id: string, pinned: boolean) => patch(id, { pinned })
  const setArchived = (id: string, archived: boolean) => patch(id, { archived })
  const setTags = (id: string, tags: string[]) => patch(id, { tags })

  /**
   * Archives (or restores) a conversation and shows it in the list again if it belongs there:
   * at `index` (where it was before, for an "Undo"), else by date.
   */
  async function setArchivedShown(
    id: string,
    archived: boolean,
    index?: number,
  ): Promise<Conversation> {
    const updated = await patch(id, { archived })
    const shown = items.value.some((c) => c.id === id)
    if (!shown && index !== undefined && updated.archived === showArchived.value) {
      items.value.splice(Math.min(index, items.value.length), 0, updated)
    } else {
      upsert(updated)
    }
    return updated
  }

  async function destroy(id: string): Promise<void> {
    await api.deleteConversation(id)
    deleted.add(id)
    remove(id)
    useFoldersStore().dropConversation(id)
    reloadIfStale()
  }

  function savePending(): void {
    writePending([...pending.keys(), ...sending])
  }

  /**
   * Hides the conversation now and deletes it at the server after `delay`, unless
   * `undoDelete` comes first. The timer lives in this store, so the delete happens also when
   * the user moves elsewhere in the app; a reload within the delay deletes it at the next
   * start (see `PENDING_KEY`). `onError`: the delete failed (the conversation is back).
   */
  function deleteLater(
    id: string,
    options: { delay?: number; onError?: (error: ApiError) => void } = {},
  ): void {
    const index = items.value.findIndex((c) => c.id === id)
    // Not in the list: maybe in an open folder (issue 21).
    const conversation = items.value[index] ?? useFoldersStore().findConversation(id)
    if (!conversation || pending.has(id)) return
    deleted.add(id)
    remove(id)
    useFoldersStore().dropConversation(id)
    const timer = setTimeout(() => void commitDelete(id), options.delay ?? DELETE_DELAY_MS)
    pending.set(id, { conversation, index, timer, onError: options.onError })
    savePending()
  }

  /** A conversation whose delete was undone (or failed) back in its place, if this view shows it. */
  function putBack(entry: PendingDelete): void {
    const { conversation } = entry
    if (entry.index < 0 || (plain.value && conversation.folder_id)) {
      useFoldersStore().putBack(conversation)
      return
    }
    if (items.value.some((c) => c.id === conversation.id)) return
    if (conversation.archived !== showArchived.value) return
    items.value.splice(Math.min(entry.index, items.value.length), 0, conversation)
  }

  /** Brings back a conversation whose delete is still waiting; false when it is too late. */
  function undoDelete(id: string): boolean {
    const entry = pending.get(id)
    if (!entry) return false
    clearTimeout(entry.timer)
    pending.delete(id)
    deleted.delete(id)
    savePending()
    putBack(entry)
    return true
  }

  /** Sends a waiting delete now. */
  async function commitDelete(id: string): Promise<void> {
    const entry = pending.get(id)
    if (!entry) return
    clearTimeout(entry.timer)
    pending.delete(id)
    sending.add(id)
    savePending()
    try {
      await api.deleteConversation(id)
      reloadIfStale()
    } catch (e) {
      const error = toApiErrorValue(e)
      // Gone already (deleted elsewhere): what the user wanted.
      if (error.status !== 404) {
        deleted.delete(id)
        putBack(entry)
        entry.onError?.(error)
      }
    } finally {
      sending.delete(id)
      savePending()
    }
  }

  /** Sends every waiting delete now (before signing out: the session is needed for them). */
  async function flushDeletes(): Promise<void> {
    await Promise.all([
      ...[...pending.keys()].map(commitDelete),
      // This tab's temporary chats too (issue 21): they are not kept.
      useTemporaryStore().discardAll(),
    ])
  }

  /** Deletes whose delay an earlier page of this tab did not see to the end. */
  function replayStoredDeletes(): void {
    for (const id of readPending()) {
      if (pending.has(id) || sending.has(id)) continue
      deleted.add(id)
      remove(id)
      sending.add(id)
      void api
        .deleteConversation(id)
        .catch(() => undefined) // already gone, or not this account's: nothing to bring back
        .finally(() => {
          sending.delete(id)
          savePending()
        })
    }
  }

  function reset(): void {
    // Signed out: a delete still waiting can no longer be sent (flushDeletes ran before).
    for (const entry of pending.values()) clearTimeout(entry.timer)
    pending.clear()
    savePending()
    generation++
    items.value = []
    nextCursor.value = null
    search.value = ''
    showArchived.value = false
    tagFilter.value = []
    loaded.value = false
    useFoldersStore().reset()
    useTagsStore().reset()
    useTemporaryStore().reset()
  }

  return {
    items,
    nextCursor,
    search,
    showArchived,
    tagFilter,
    activeTags,
    filtered,
    plain,
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
    setArchivedShown,
    setTags,
    placeFiled,
    destroy,
    deleteLater,
    undoDelete,
    flushDeletes,
    reset,
  }
})
