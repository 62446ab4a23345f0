import { defineStore } from 'pinia'
import { computed, ref } from 'vue'

import * as conversationsApi from '@/api/conversations'
import { toApiErrorValue, type ApiError } from '@/api/http'
import * as api from '@/api/organize'
import type { Conversation, Folder } from '@/api/types'
import { useConversationsStore } from '@/stores/conversations'

/** One opened folder's conversations (its own, not its subfolders'). */
export interface FolderContents {
  items: Conversation[]
  nextCursor: string | null
  loading: boolean
  error: ApiError | null
}

/** A top-level folder with its subfolders (folders nest one level deep). */
export interface FolderNode {
  folder: Folder
  children: Folder[]
}

const byName = (a: Folder, b: Folder) =>
  a.name.localeCompare(b.name, undefined, { sensitivity: 'base' })

/**
 * The sidebar's folders (issue 21): the caller's folders as a tree, which ones are open, the
 * conversations of each open folder (loaded when it opens), and filing a conversation.
 * The main list (stores/conversations.ts) shows the unfiled ones only.
 */
export const useFoldersStore = defineStore('folders', () => {
  const folders = ref<Folder[]>([])
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)
  const expanded = ref<string[]>([])
  const contents = ref<Record<string, FolderContents>>({})

  const tree = computed<FolderNode[]>(() =>
    folders.value
      .filter((f) => !f.parent_id)
      .sort(byName)
      .map((folder) => ({
        folder,
        children: folders.value.filter((f) => f.parent_id === folder.id).sort(byName),
      })),
  )

  const byId = (id: string | null | undefined) =>
    id ? folders.value.find((f) => f.id === id) : undefined

  async function load(): Promise<void> {
    try {
      folders.value = await api.listFolders()
      error.value = null
      // A folder deleted elsewhere is no longer open.
      expanded.value = expanded.value.filter((id) => byId(id))
    } catch (e) {
      error.value = toApiErrorValue(e)
    } finally {
      loaded.value = true
    }
  }

  const isOpen = (id: string) => expanded.value.includes(id)

  async function loadFolder(id: string): Promise<void> {
    const entry: FolderContents = contents.value[id] ?? {
      items: [],
      nextCursor: null,
      loading: false,
      error: null,
    }
    entry.loading = true
    contents.value = { ...contents.value, [id]: entry }
    try {
      const page = await conversationsApi.listConversations({ folder_id: id, limit: 100 })
      contents.value = {
        ...contents.value,
        [id]: {
          items: page.conversations,
          nextCursor: page.next_cursor,
          loading: false,
          error: null,
        },
      }
    } catch (e) {
      contents.value = {
        ...contents.value,
        [id]: { ...entry, loading: false, error: toApiErrorValue(e) },
      }
    }
  }

  async function loadMoreOf(id: string): Promise<void> {
    const entry = contents.value[id]
    if (!entry?.nextCursor || entry.loading) return
    entry.loading = true
    try {
      const page = await conversationsApi.listConversations({
        folder_id: id,
        limit: 100,
        cursor: entry.nextCursor,
      })
      const known = new Set(entry.items.map((c) => c.id))
      entry.items.push(...page.conversations.filter((c) => !known.has(c.id)))
      entry.nextCursor = page.next_cursor
    } catch (e) {
      entry.error = toApiErrorValue(e)
    } finally {
      entry.loading = false
    }
  }

  /** Opens (and loads) or closes a folder. */
  async function toggle(id: string): Promise<void> {
    if (isOpen(id)) {
      expanded.value = expanded.value.filter((open) => open !== id)
      return
    }
    expanded.value = [...expanded.value, id]
    await loadFolder(id)
  }

  /** The open folders' lists again (after an answer renamed or moved a conversation). */
  function refreshOpen(): void {
    for (const id of expanded.value) void loadFolder(id)
  }

  async function create(name: string, parentId: string | null = null): Promise<Folder> {
    const folder = await api.createFolder({
      name: name.trim(),
      ...(parentId ? { parent_id: parentId } : {}),
    })
    folders.value = [...folders.value, folder]
    return folder
  }

  async function rename(id: string, name: string): Promise<Folder> {
    const folder = await api.updateFolder(id, { name: name.trim() })
    folders.value = folders.value.map((f) => (f.id === id ? folder : f))
    return folder
  }

  /**
   * Deletes a folder and its subfolders. Their conversations are deleted too, or (`false`)
   * go back to the main list.
   */
  async function remove(id: string, deleteConversations: boolean): Promise<void> {
    await api.deleteFolder(id, deleteConversations)
    const gone = new Set([id, ...folders.value.filter((f) => f.parent_id === id).map((f) => f.id)])
    folders.value = folders.value.filter((f) => !gone.has(f.id))
    expanded.value = expanded.value.filter((open) => !gone.has(open))
    const next = { ...contents.value }
    for (const folderId of gone) delete next[folderId]
    contents.value = next
    const list = useConversationsStore()
    await list.load()
  }

  function count(id: string | null | undefined, step: number): void {
    const folder = byId(id)
    if (folder) folder.conversation_count = Math.max(0, folder.conversation_count + step)
  }

  /** The conversation, when an open folder shows it. */
  function findConversation(id: string): Conversation | undefined {
    for (const entry of Object.values(contents.value)) {
      const found = entry.items.find((c) => c.id === id)
      if (found) return found
    }
    return undefined
  }

  /** Takes a conversation out of the open folders' lists; true when one showed it. */
  function dropConversation(id: string): boolean {
    let found = false
    for (const entry of Object.values(contents.value)) {
      const index = entry.items.findIndex((c) => c.id === id)
      if (index >= 0) {
        entry.items.splice(index, 1)
        found = true
      }
    }
    return found
  }

  /** A changed conversation in its folder's list (or out of it: archived, moved). */
  function replace(conversation: Conversation): void {
    for (const [folderId, entry] of Object.entries(contents.value)) {
      const index = entry.items.findIndex((c) => c.id === conversation.id)
      const belongs =
        conversation.folder_id === folderId && !conversation.archived && !conversation.temporary
      if (index >= 0 && belongs) entry.items.splice(index, 1, conversation)
      else if (index >= 0) entry.items.splice(index, 1)
    }
  }

  /** Puts a conversation (back) into its folder's list, if that folder is loaded. */
  function putBack(conversation: Conversation): void {
    const entry = conversation.folder_id ? contents.value[conversation.folder_id] : undefined
    if (!entry || entry.items.some((c) => c.id === conversation.id)) return
    entry.items.unshift(conversation)
    entry.items.sort((a, b) => b.updated_at.localeCompare(a.updated_at))
  }

  /** Files a conversation in a folder (`null`: takes it out of its folder). */
  async function move(conversationId: string, folderId: string | null): Promise<Conversation> {
    const list = useConversationsStore()
    const before =
      findConversation(conversationId) ?? list.items.find((c) => c.id === conversationId)
    const updated = await conversationsApi.updateConversation(conversationId, {
      folder_id: folderId,
    })
    const from = before?.folder_id ?? null
    const to = updated.folder_id ?? folderId
    if (from !== to) {
      count(from, -1)
      count(to, 1)
    }
    dropConversation(conversationId)
    putBack({ ...updated, folder_id: to })
    list.placeFiled({ ...updated, folder_id: to })
    return updated
  }

  function reset(): void {
    folders.value = []
    expanded.value = []
    contents.value = {}
    loaded.value = false
    error.value = null
  }

  return {
    folders,
    loaded,
    error,
    expanded,
    contents,
    tree,
    byId,
    load,
    isOpen,
    toggle,
    loadFolder,
    loadMoreOf,
    refreshOpen,
    create,
    rename,
    remove,
    findConversation,
    dropConversation,
    replace,
    putBack,
    move,
    reset,
  }
})

/** The drag-and-drop type of a conversation dragged onto a folder (its id as the data). */
export const CONVERSATION_DRAG_TYPE = 'application/x-daehwa-conversation'
