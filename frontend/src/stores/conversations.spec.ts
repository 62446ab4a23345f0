import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'

import type { ConversationPage } from '@/api/conversations'
import type { Conversation } from '@/api/types'

vi.mock('@/api/conversations', () => ({
  listConversations: vi.fn(),
  updateConversation: vi.fn(),
  deleteConversation: vi.fn(async () => undefined),
}))

const api = await import('@/api/conversations')
const { useConversationsStore } = await import('./conversations')

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
    ...over,
  }
}

/** A list answer the test releases when it wants: a load still in flight. */
function deferredPage(): {
  promise: Promise<ConversationPage>
  resolve: (p: ConversationPage) => void
} {
  let resolve!: (p: ConversationPage) => void
  const promise = new Promise<ConversationPage>((r) => (resolve = r))
  return { promise, resolve }
}

describe('conversations store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.mocked(api.listConversations).mockReset()
  })

  it('a list answer computed before a delete does not bring the conversation back', async () => {
    const list = useConversationsStore()
    vi.mocked(api.listConversations).mockResolvedValueOnce({
      conversations: [conv('a'), conv('b')],
      next_cursor: null,
    })
    await list.load()

    // A load starts (the server answers it before the delete), then the delete lands.
    const stale = deferredPage()
    vi.mocked(api.listConversations).mockReturnValueOnce(stale.promise)
    const loading = list.load()
    vi.mocked(api.listConversations).mockResolvedValueOnce({
      conversations: [conv('b')],
      next_cursor: null,
    })
    await list.destroy('a')
    stale.resolve({ conversations: [conv('a'), conv('b')], next_cursor: null })
    await loading
    await vi.waitFor(() => expect(list.loading).toBe(false))

    expect(list.items.map((c) => c.id)).toEqual(['b'])
  })

  it('a change landing while a load is in flight is followed by a fresh load', async () => {
    const list = useConversationsStore()
    vi.mocked(api.listConversations).mockResolvedValueOnce({
      conversations: [conv('a')],
      next_cursor: null,
    })
    await list.load()

    const stale = deferredPage()
    vi.mocked(api.listConversations).mockReturnValueOnce(stale.promise)
    const loading = list.load()
    vi.mocked(api.updateConversation).mockResolvedValueOnce(conv('a', { title: 'Renamed' }))
    vi.mocked(api.listConversations).mockResolvedValueOnce({
      conversations: [conv('a', { title: 'Renamed' })],
      next_cursor: null,
    })
    await list.rename('a', 'Renamed')
    stale.resolve({ conversations: [conv('a')], next_cursor: null })
    await loading
    await vi.waitFor(() => expect(list.loading).toBe(false))

    expect(list.items.map((c) => c.title)).toEqual(['Renamed'])
    expect(api.listConversations).toHaveBeenCalledTimes(3)
  })
})
