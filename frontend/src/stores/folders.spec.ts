import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'

import type { Conversation, Folder } from '@/api/types'

vi.mock('@/api/conversations', () => ({
  listConversations: vi.fn(),
  updateConversation: vi.fn(),
  deleteConversation: vi.fn(async () => undefined),
}))
vi.mock('@/api/organize', () => ({
  listFolders: vi.fn(),
  createFolder: vi.fn(),
  updateFolder: vi.fn(),
  deleteFolder: vi.fn(async () => undefined),
  listTags: vi.fn(async () => []),
}))

const api = await import('@/api/conversations')
const organize = await import('@/api/organize')
const { useFoldersStore } = await import('./folders')
const { useConversationsStore } = await import('./conversations')

function folder(id: string, name: string, parent_id: string | null = null, n = 0): Folder {
  return {
    id,
    name,
    parent_id,
    conversation_count: n,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
  }
}

function conv(id: string, over: Partial<Conversation> = {}): Conversation {
  return {
    id,
    title: id,
    model_id: null,
    pinned: false,
    archived: false,
    message_count: 2,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    folder_id: null,
    tags: [],
    ...over,
  }
}

describe('folders store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.mocked(api.listConversations).mockReset()
    vi.mocked(api.updateConversation).mockReset()
    vi.mocked(organize.listFolders).mockResolvedValue([
      folder('w', 'work', null, 1),
      folder('a', 'Archive'),
      folder('w2', 'clients', 'w'),
    ])
  })

  it('builds a tree of top-level folders and their subfolders, by name', async () => {
    const folders = useFoldersStore()
    await folders.load()
    expect(folders.tree.map((n) => [n.folder.name, n.children.map((c) => c.name)])).toEqual([
      ['Archive', []],
      ['work', ['clients']],
    ])
  })

  it('opening a folder loads its conversations with folder_id', async () => {
    const folders = useFoldersStore()
    await folders.load()
    vi.mocked(api.listConversations).mockResolvedValueOnce({
      conversations: [conv('c1', { folder_id: 'w' })],
      next_cursor: null,
    })
    await folders.toggle('w')
    expect(api.listConversations).toHaveBeenCalledWith({ folder_id: 'w', limit: 100 })
    expect(folders.isOpen('w')).toBe(true)
    expect(folders.contents.w?.items.map((c) => c.id)).toEqual(['c1'])
    await folders.toggle('w')
    expect(folders.isOpen('w')).toBe(false)
  })

  it('the plain list asks for the unfiled conversations only; a search for all', async () => {
    const list = useConversationsStore()
    vi.mocked(api.listConversations).mockResolvedValue({ conversations: [], next_cursor: null })
    await list.load()
    expect(vi.mocked(api.listConversations).mock.calls[0]?.[0]).toMatchObject({
      folder_id: 'none',
    })
    list.search = 'tag:work 강아지'
    await list.load()
    const searched = vi.mocked(api.listConversations).mock.calls[1]?.[0]
    expect(searched).toMatchObject({ q: '강아지', tag: ['work'] })
    expect(searched?.folder_id).toBeUndefined()
  })

  it('moving a conversation into a folder takes it out of the list and counts it', async () => {
    const folders = useFoldersStore()
    const list = useConversationsStore()
    await folders.load()
    vi.mocked(api.listConversations).mockResolvedValueOnce({
      conversations: [conv('c1'), conv('c2')],
      next_cursor: null,
    })
    await list.load()
    vi.mocked(api.listConversations).mockResolvedValueOnce({ conversations: [], next_cursor: null })
    await folders.toggle('a')
    vi.mocked(api.updateConversation).mockResolvedValueOnce(conv('c1', { folder_id: 'a' }))

    await folders.move('c1', 'a')

    expect(api.updateConversation).toHaveBeenCalledWith('c1', { folder_id: 'a' })
    expect(list.items.map((c) => c.id)).toEqual(['c2'])
    expect(folders.contents.a?.items.map((c) => c.id)).toEqual(['c1'])
    expect(folders.byId('a')?.conversation_count).toBe(1)

    // …and "Remove from folder" brings it back to the list.
    vi.mocked(api.updateConversation).mockResolvedValueOnce(conv('c1', { folder_id: null }))
    await folders.move('c1', null)
    expect(api.updateConversation).toHaveBeenLastCalledWith('c1', { folder_id: null })
    expect(folders.contents.a?.items).toEqual([])
    expect(list.items.map((c) => c.id).sort()).toEqual(['c1', 'c2'])
    expect(folders.byId('a')?.conversation_count).toBe(0)
  })

  it('deleting a folder sends the choice, drops its subfolders and reloads the list', async () => {
    const folders = useFoldersStore()
    vi.mocked(api.listConversations).mockResolvedValue({ conversations: [], next_cursor: null })
    await folders.load()
    await folders.remove('w', true)
    expect(organize.deleteFolder).toHaveBeenCalledWith('w', true)
    expect(folders.folders.map((f) => f.id)).toEqual(['a'])
    expect(api.listConversations).toHaveBeenCalled()
  })

  it('creates a subfolder under a top-level folder; renames', async () => {
    const folders = useFoldersStore()
    await folders.load()
    vi.mocked(organize.createFolder).mockResolvedValueOnce(folder('n', 'new', 'a'))
    await folders.create('  new ', 'a')
    expect(organize.createFolder).toHaveBeenCalledWith({ name: 'new', parent_id: 'a' })
    expect(folders.tree.find((n) => n.folder.id === 'a')?.children.map((c) => c.id)).toEqual(['n'])
    vi.mocked(organize.updateFolder).mockResolvedValueOnce(folder('a', 'Old stuff'))
    await folders.rename('a', 'Old stuff')
    expect(organize.updateFolder).toHaveBeenCalledWith('a', { name: 'Old stuff' })
    expect(folders.byId('a')?.name).toBe('Old stuff')
  })

  it('a delete from inside an open folder hides it there; undo puts it back', async () => {
    const folders = useFoldersStore()
    const list = useConversationsStore()
    await folders.load()
    vi.mocked(api.listConversations).mockResolvedValueOnce({
      conversations: [conv('c9', { folder_id: 'w' })],
      next_cursor: null,
    })
    await folders.toggle('w')
    list.deleteLater('c9', { delay: 60_000 })
    expect(folders.contents.w?.items).toEqual([])
    expect(list.undoDelete('c9')).toBe(true)
    expect(folders.contents.w?.items.map((c) => c.id)).toEqual(['c9'])
  })

  it('a temporary conversation never enters the list', () => {
    const list = useConversationsStore()
    list.upsert(conv('t', { temporary: true }))
    expect(list.items).toEqual([])
  })
})
