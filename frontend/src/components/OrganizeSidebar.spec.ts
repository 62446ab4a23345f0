import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'

import type { Conversation, Folder } from '@/api/types'

vi.mock('@/api/conversations', () => ({
  listConversations: vi.fn(async () => ({ conversations: [], next_cursor: null })),
  updateConversation: vi.fn(),
  deleteConversation: vi.fn(async () => undefined),
}))
vi.mock('@/api/organize', () => ({
  listFolders: vi.fn(async () => []),
  createFolder: vi.fn(),
  updateFolder: vi.fn(),
  deleteFolder: vi.fn(async () => undefined),
  listTags: vi.fn(async () => []),
}))

const api = await import('@/api/conversations')
const organize = await import('@/api/organize')
const { byTestId, mountView, settle, testUser } = await import('@/testing/mount')
const { useConversationsStore } = await import('@/stores/conversations')
const { CONVERSATION_DRAG_TYPE, useFoldersStore } = await import('@/stores/folders')
const { default: ConversationItem } = await import('./ConversationItem.vue')
const { default: FolderItem } = await import('./FolderItem.vue')

const base: Conversation = {
  id: 'c1',
  title: 'Quokka facts',
  model_id: null,
  pinned: false,
  archived: false,
  message_count: 2,
  created_at: '2024-01-01T00:00:00Z',
  updated_at: '2024-01-01T00:00:00Z',
  folder_id: null,
  tags: ['work', 'animals', 'travel'],
}

const work: Folder = {
  id: 'f1',
  name: 'Work',
  parent_id: null,
  conversation_count: 0,
  created_at: '2024-01-01T00:00:00Z',
  updated_at: '2024-01-01T00:00:00Z',
}

const host = defineComponent({
  setup() {
    const list = useConversationsStore()
    const folders = useFoldersStore()
    return () =>
      h('div', [
        h(
          'ul',
          folders.tree.map((n) => h(FolderItem, { key: n.folder.id, folder: n.folder })),
        ),
        h(
          'ul',
          list.items.map((c) => h(ConversationItem, { key: c.id, conversation: c })),
        ),
      ])
  },
})

async function mount() {
  const view = await mountView(host, '/', { user: testUser() })
  useConversationsStore().items = [{ ...base }]
  await useFoldersStore().load()
  await settle()
  return view
}

/** Types into an input and sends a key as the browser would. */
async function typeKey(input: HTMLInputElement, text: string, key: string): Promise<void> {
  input.value = text
  input.dispatchEvent(new Event('input'))
  input.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true }))
  await settle()
}

describe('organizing from the sidebar', () => {
  let unmount = () => undefined as void
  beforeEach(() => {
    vi.mocked(organize.listFolders).mockResolvedValue([{ ...work }])
  })
  afterEach(() => {
    unmount()
    document.body.innerHTML = ''
    vi.mocked(api.updateConversation).mockReset()
  })

  it('shows the first two tags and a count of the rest, as text', async () => {
    const view = await mount()
    unmount = view.unmount
    const tags = byTestId(view.el, 'conversation-tags')!
    expect([...tags.children].map((tag) => tag.textContent)).toEqual(['work', 'animals', '+1'])
  })

  it('edits the tags in a dialog: Enter and comma add, × removes, Save sends the set', async () => {
    const view = await mount()
    unmount = view.unmount
    byTestId(view.el, 'conversation-menu')!.click()
    await settle()
    byTestId(view.el, 'menu-tags')!.click()
    await settle()
    const dialog = byTestId(document.body, 'tag-dialog')!
    expect(dialog.getAttribute('role')).toBe('dialog')
    const input = byTestId(dialog, 'tag-input') as HTMLInputElement
    expect(document.activeElement).toBe(input)
    await typeKey(input, '여행', 'Enter')
    await typeKey(input, 'Work', ',') // a duplicate, merged
    await typeKey(input, 'tag:x', 'Enter')
    expect(byTestId(dialog, 'tag-problem')?.textContent).toContain('tag:')
    expect(input.value, 'the refused tag stays to be fixed').toBe('tag:x')
    byTestId(dialog, 'tag-save')!.click()
    await settle()
    expect(api.updateConversation, 'saved with a refused tag in the box').not.toHaveBeenCalled()
    input.value = ''
    input.dispatchEvent(new Event('input'))
    const chips = () => [...dialog.querySelectorAll('[data-testid="tag-chip"]')]
    expect(chips().map((c) => c.textContent?.trim())).toEqual(['work', 'animals', 'travel', '여행'])
    ;(chips()[1]!.querySelector('[data-testid="tag-remove"]') as HTMLElement).click()
    await settle()
    vi.mocked(api.updateConversation).mockResolvedValueOnce({
      ...base,
      tags: ['travel', 'work', '여행'],
    })
    byTestId(dialog, 'tag-save')!.click()
    await settle()
    expect(api.updateConversation).toHaveBeenCalledWith('c1', { tags: ['travel', 'work', '여행'] })
    expect(byTestId(document.body, 'tag-dialog')).toBeNull()
  })

  it('"Move to folder" files it: it leaves the list and the folder counts it', async () => {
    const view = await mount()
    unmount = view.unmount
    byTestId(view.el, 'conversation-menu')!.click()
    await settle()
    byTestId(view.el, 'menu-move')!.click()
    await settle()
    const dialog = byTestId(document.body, 'move-dialog')!
    ;(byTestId(dialog, 'move-target') as HTMLInputElement).click()
    vi.mocked(api.updateConversation).mockResolvedValueOnce({ ...base, folder_id: 'f1' })
    byTestId(dialog, 'move-save')!.click()
    await settle()
    expect(api.updateConversation).toHaveBeenCalledWith('c1', { folder_id: 'f1' })
    expect(useConversationsStore().items).toEqual([])
    expect(view.el.querySelector('[data-testid="folder-toggle"]')?.textContent).toContain('1')
  })

  it('a conversation dropped on a folder is filed there; opening the folder lists it', async () => {
    const view = await mount()
    unmount = view.unmount
    const data = new Map<string, string>([[CONVERSATION_DRAG_TYPE, 'c1']])
    const transfer = {
      types: [...data.keys()],
      getData: (type: string) => data.get(type) ?? '',
      dropEffect: 'none',
    }
    const folder = byTestId(view.el, 'folder')!
    const over = new Event('dragover', { bubbles: true, cancelable: true })
    Object.assign(over, { dataTransfer: transfer })
    folder.dispatchEvent(over)
    expect(over.defaultPrevented).toBe(true)
    const drop = new Event('drop', { bubbles: true, cancelable: true })
    Object.assign(drop, { dataTransfer: transfer })
    vi.mocked(api.updateConversation).mockResolvedValueOnce({ ...base, folder_id: 'f1' })
    folder.dispatchEvent(drop)
    await settle()
    expect(api.updateConversation).toHaveBeenCalledWith('c1', { folder_id: 'f1' })

    vi.mocked(api.listConversations).mockResolvedValueOnce({
      conversations: [{ ...base, folder_id: 'f1' }],
      next_cursor: null,
    })
    const toggle = byTestId(view.el, 'folder-toggle')!
    toggle.click()
    await settle()
    expect(toggle.getAttribute('aria-expanded')).toBe('true')
    expect(api.listConversations).toHaveBeenLastCalledWith({ folder_id: 'f1', limit: 100 })
    const inside = byTestId(view.el, 'folder-children')!
    expect(inside.textContent).toContain('Quokka facts')
    // Inside a folder the menu offers "Remove from folder".
    ;(inside.querySelector('[data-testid="conversation-menu"]') as HTMLElement).click()
    await settle()
    expect(inside.querySelector('[data-testid="menu-unfile"]')).not.toBeNull()
  })

  it('deleting a folder asks what becomes of its conversations', async () => {
    const view = await mount()
    unmount = view.unmount
    byTestId(view.el, 'folder-menu')!.click()
    await settle()
    byTestId(view.el, 'folder-delete')!.click()
    await settle()
    const dialog = byTestId(document.body, 'folder-delete-dialog')!
    expect((byTestId(dialog, 'folder-delete-keep') as HTMLInputElement).checked).toBe(true)
    ;(byTestId(dialog, 'folder-delete-all') as HTMLInputElement).click()
    byTestId(dialog, 'folder-delete-confirm')!.click()
    await settle()
    expect(organize.deleteFolder).toHaveBeenCalledWith('f1', true)
    expect(byTestId(view.el, 'folder')).toBeNull()
  })
})
