import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { nextTick } from 'vue'

import type { ConversationDetail } from '@/api/types'

vi.mock('@/api/conversations', () => ({
  listConversations: vi.fn(async () => ({ conversations: [], next_cursor: null })),
  getConversation: vi.fn(),
  createConversation: vi.fn(),
  updateConversation: vi.fn(),
  deleteConversation: vi.fn(async () => undefined),
  // A stream that never answers: the test looks at what was created.
  streamSend: vi.fn(() => new Promise(() => undefined)),
}))

const api = await import('@/api/conversations')
const { setAccessToken } = await import('@/api/http')
const { useChatStore } = await import('./chat')
const { useConversationsStore } = await import('./conversations')
const { useSettingsStore } = await import('./settings')
const { useTemporaryStore } = await import('./temporary')

function detail(id: string, temporary = false): ConversationDetail {
  return {
    id,
    title: '',
    model_id: null,
    pinned: false,
    archived: false,
    message_count: 0,
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    system_prompt: null,
    current_message_id: null,
    messages: [],
    temporary,
  } as ConversationDetail
}

describe('temporary chats', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.mocked(api.deleteConversation).mockClear()
  })
  afterEach(() => {
    vi.unstubAllGlobals()
    setAccessToken(null)
  })

  it('the switch is off until wanted, and on and locked when a group forces it', () => {
    const temporary = useTemporaryStore()
    expect(temporary.on).toBe(false)
    temporary.wanted = true
    expect(temporary.on).toBe(true)
    temporary.wanted = false
    useSettingsStore().temporaryForced = true
    expect(temporary.forced).toBe(true)
    expect(temporary.on).toBe(true)
  })

  it('is active for a temporary conversation, and leaving it deletes it', async () => {
    const temporary = useTemporaryStore()
    const chat = useChatStore()
    chat.conversation = detail('t1', true)
    temporary.track('t1')
    await nextTick()
    expect(temporary.active).toBe(true)

    chat.startNew()
    await nextTick()
    await nextTick()
    expect(api.deleteConversation).toHaveBeenCalledWith('t1')
    expect(temporary.ids).toEqual([])
    expect(temporary.active).toBe(false)
  })

  it('leaving an ordinary conversation deletes nothing', async () => {
    useTemporaryStore()
    const chat = useChatStore()
    chat.conversation = detail('c1')
    await nextTick()
    chat.startNew()
    await nextTick()
    expect(api.deleteConversation).not.toHaveBeenCalled()
  })

  it('closing the tab deletes the temporary chats with keepalive and the token', () => {
    const fetch = vi.fn(async () => new Response(null, { status: 204 }))
    vi.stubGlobal('fetch', fetch)
    setAccessToken('tok-123')
    const temporary = useTemporaryStore()
    temporary.track('t1')
    temporary.track('t2')
    temporary.onPageHide()
    expect(fetch).toHaveBeenCalledTimes(2)
    const [url, init] = fetch.mock.calls[0] as unknown as [string, RequestInit]
    expect(url).toMatch(/api\/v1\/conversations\/t1$/)
    expect(init).toMatchObject({
      method: 'DELETE',
      keepalive: true,
      headers: { Authorization: 'Bearer tok-123' },
    })
    expect(temporary.ids).toEqual([])
  })

  it('a new chat with the switch on is created temporary, tracked and never listed', async () => {
    vi.mocked(api.createConversation).mockResolvedValueOnce({
      ...detail('t9', true),
    })
    const temporary = useTemporaryStore()
    const chat = useChatStore()
    chat.startNew()
    temporary.wanted = true
    expect(await chat.send('비밀 질문')).toBe(true)
    expect(api.createConversation).toHaveBeenCalledWith(
      expect.objectContaining({ temporary: true }),
    )
    expect(temporary.ids).toEqual(['t9'])
    expect(temporary.active).toBe(true)
    expect(useConversationsStore().items).toEqual([])
  })

  it('with the switch off nothing says temporary', async () => {
    vi.mocked(api.createConversation).mockResolvedValueOnce(detail('c2'))
    const chat = useChatStore()
    chat.startNew()
    await chat.send('hello')
    expect(vi.mocked(api.createConversation).mock.calls.at(-1)?.[0]).not.toHaveProperty('temporary')
    expect(useTemporaryStore().ids).toEqual([])
  })

  it('signing out deletes this tab’s temporary chats first', async () => {
    const temporary = useTemporaryStore()
    temporary.track('t1')
    await useConversationsStore().flushDeletes()
    expect(api.deleteConversation).toHaveBeenCalledWith('t1')
    expect(temporary.ids).toEqual([])
  })
})
