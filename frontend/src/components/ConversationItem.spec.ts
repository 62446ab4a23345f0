import { afterEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'

import type { Conversation } from '@/api/types'

vi.mock('@/api/conversations', () => ({
  listConversations: vi.fn(async () => ({ conversations: [], next_cursor: null })),
  updateConversation: vi.fn(),
  deleteConversation: vi.fn(async () => undefined),
}))

const api = await import('@/api/conversations')
const { byTestId, mountView, settle, testUser } = await import('@/testing/mount')
const { useConversationsStore } = await import('@/stores/conversations')
const { useToastStore } = await import('@/stores/toast')
const { default: ConversationItem } = await import('./ConversationItem.vue')

const conversation: Conversation = {
  id: 'c1',
  title: 'Quokka facts',
  model_id: null,
  pinned: false,
  archived: false,
  message_count: 2,
  created_at: '2024-01-01T00:00:00Z',
  updated_at: '2024-01-01T00:00:00Z',
}

/** The item as the sidebar shows it, for the conversation the store holds. */
function host(keywords: string[] = []) {
  return defineComponent({
    setup() {
      const list = useConversationsStore()
      return () =>
        h(
          'ul',
          list.items.map((c) => h(ConversationItem, { key: c.id, conversation: c, keywords })),
        )
    },
  })
}

async function mount(item: Conversation = conversation, keywords: string[] = []) {
  const view = await mountView(host(keywords), '/', { user: testUser() })
  useConversationsStore().items = [item]
  await settle()
  return view
}

describe('a conversation in the sidebar', () => {
  let unmount = () => undefined as void
  afterEach(() => {
    unmount()
    vi.mocked(api.updateConversation).mockReset()
    vi.mocked(api.deleteConversation).mockClear()
  })

  it('shows the search snippet with the keywords marked, as text', async () => {
    const view = await mount(
      { ...conversation, snippet: '…what do <b>quokkas</b> eat? Quokkas eat leaves…' },
      ['quokkas'],
    )
    unmount = view.unmount
    const snippet = byTestId(view.el, 'conversation-snippet')!
    expect(snippet.textContent).toBe('…what do <b>quokkas</b> eat? Quokkas eat leaves…')
    expect([...snippet.querySelectorAll('mark')].map((m) => m.textContent)).toEqual([
      'quokkas',
      'Quokkas',
    ])
    expect(snippet.querySelector('b'), 'server text became markup').toBeNull()
  })

  it('has no snippet line outside a search', async () => {
    const view = await mount()
    unmount = view.unmount
    expect(byTestId(view.el, 'conversation-snippet')).toBeNull()
  })

  it('double-click renames in place: Enter saves, Escape and an empty title do not', async () => {
    const view = await mount()
    unmount = view.unmount
    const dblclick = async () => {
      byTestId(view.el, 'conversation-link')!.dispatchEvent(
        new MouseEvent('dblclick', { bubbles: true, cancelable: true }),
      )
      await settle()
      return byTestId(view.el, 'rename-input') as HTMLInputElement
    }
    const type = async (input: HTMLInputElement, text: string, key: string) => {
      input.value = text
      input.dispatchEvent(new Event('input'))
      if (key === 'Enter') input.form!.requestSubmit()
      else input.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true }))
      await settle()
    }

    let input = await dblclick()
    expect(input.value).toBe('Quokka facts')
    expect(document.activeElement).toBe(input)
    await type(input, 'Something else', 'Escape')
    expect(byTestId(view.el, 'rename-input')).toBeNull()
    expect(api.updateConversation).not.toHaveBeenCalled()
    expect(document.activeElement, 'the focus went back to the link').toBe(
      byTestId(view.el, 'conversation-link'),
    )

    input = await dblclick()
    await type(input, '   ', 'Enter')
    expect(api.updateConversation, 'an empty title was saved').not.toHaveBeenCalled()
    expect(byTestId(view.el, 'conversation-title')!.textContent).toBe('Quokka facts')

    vi.mocked(api.updateConversation).mockResolvedValueOnce({ ...conversation, title: 'Renamed' })
    input = await dblclick()
    await type(input, 'Renamed', 'Enter')
    expect(api.updateConversation).toHaveBeenCalledWith('c1', { title: 'Renamed' })
    expect(byTestId(view.el, 'conversation-title')!.textContent).toBe('Renamed')
  })

  it('delete hides it with an "Undo" toast; Undo brings it back and nothing is deleted', async () => {
    const view = await mount()
    unmount = view.unmount
    byTestId(view.el, 'conversation-menu')!.click()
    await settle()
    byTestId(view.el, 'menu-delete')!.click()
    await settle()
    byTestId(view.el, 'menu-delete-confirm')!.click()
    await settle()
    expect(byTestId(view.el, 'conversation-link')).toBeNull()
    const toast = useToastStore()
    const undo = toast.toasts.find((t) => t.action)
    expect(undo?.action?.label).toBe('Undo')
    toast.act(undo!.id)
    await settle()
    expect(byTestId(view.el, 'conversation-link')).not.toBeNull()
    expect(api.deleteConversation).not.toHaveBeenCalled()
  })
})
