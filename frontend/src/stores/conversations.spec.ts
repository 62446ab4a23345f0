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
const { DELETE_DELAY_MS, useConversationsStore } = await import('./conversations')

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

describe('deleting with "Undo"', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.mocked(api.listConversations).mockReset()
    vi.mocked(api.deleteConversation).mockReset()
    vi.mocked(api.deleteConversation).mockResolvedValue(undefined)
    sessionStorage.clear()
  })

  async function loaded(...ids: string[]) {
    const list = useConversationsStore()
    vi.mocked(api.listConversations).mockResolvedValue({
      conversations: ids.map((id) => conv(id)),
      next_cursor: null,
    })
    await list.load()
    return list
  }

  it('hides the conversation at once and deletes it only after the delay', async () => {
    vi.useFakeTimers()
    try {
      const list = await loaded('a', 'b')
      list.deleteLater('a')
      expect(list.items.map((c) => c.id)).toEqual(['b'])
      expect(JSON.parse(sessionStorage.getItem('daehwa.pendingDeletes') ?? '[]')).toEqual(['a'])
      await vi.advanceTimersByTimeAsync(DELETE_DELAY_MS - 100)
      expect(api.deleteConversation).not.toHaveBeenCalled()
      await vi.advanceTimersByTimeAsync(200)
      expect(api.deleteConversation).toHaveBeenCalledWith('a')
      expect(sessionStorage.getItem('daehwa.pendingDeletes')).toBeNull()
      // A list answer that still has it (computed before the delete) does not bring it back.
      await list.load()
      expect(list.items.map((c) => c.id)).toEqual(['b'])
    } finally {
      vi.useRealTimers()
    }
  })

  it('"Undo" within the delay brings it back and nothing is deleted', async () => {
    vi.useFakeTimers()
    try {
      const list = await loaded('a', 'b')
      list.deleteLater('b')
      expect(list.undoDelete('b')).toBe(true)
      expect(list.items.map((c) => c.id)).toEqual(['a', 'b'])
      await vi.advanceTimersByTimeAsync(DELETE_DELAY_MS * 2)
      expect(api.deleteConversation).not.toHaveBeenCalled()
      expect(list.undoDelete('b'), 'a second undo').toBe(false)
      await list.load()
      expect(list.items.map((c) => c.id)).toEqual(['a', 'b'])
    } finally {
      vi.useRealTimers()
    }
  })

  it('a failed delete puts the conversation back and says so', async () => {
    const list = await loaded('a')
    const { ApiError } = await import('@/api/http')
    vi.mocked(api.deleteConversation).mockRejectedValueOnce(new ApiError(500, 'internal', 'boom'))
    const onError = vi.fn()
    list.deleteLater('a', { delay: 0, onError })
    await vi.waitFor(() => expect(onError).toHaveBeenCalled())
    expect(list.items.map((c) => c.id)).toEqual(['a'])
  })

  it('signing out sends the waiting deletes first', async () => {
    const list = await loaded('a', 'b')
    list.deleteLater('a')
    list.deleteLater('b')
    await list.flushDeletes()
    expect(vi.mocked(api.deleteConversation).mock.calls.map(([id]) => id)).toEqual(['a', 'b'])
  })

  it('a delete whose page went away within the delay is done at the next start', async () => {
    sessionStorage.setItem('daehwa.pendingDeletes', JSON.stringify(['gone']))
    const list = await loaded('gone', 'kept')
    expect(api.deleteConversation).toHaveBeenCalledWith('gone')
    expect(list.items.map((c) => c.id)).toEqual(['kept'])
    await vi.waitFor(() => expect(sessionStorage.getItem('daehwa.pendingDeletes')).toBeNull())
  })
})

describe('archiving with "Undo"', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.mocked(api.listConversations).mockReset()
  })

  it('restoring an archived conversation shows it in the list again', async () => {
    const list = useConversationsStore()
    vi.mocked(api.listConversations).mockResolvedValue({
      conversations: [conv('a'), conv('b', { updated_at: '2025-12-01T00:00:00Z' })],
      next_cursor: null,
    })
    await list.load()
    vi.mocked(api.updateConversation).mockResolvedValueOnce(conv('a', { archived: true }))
    await list.setArchived('a', true)
    expect(list.items.map((c) => c.id)).toEqual(['b'])
    vi.mocked(api.updateConversation).mockResolvedValueOnce(conv('a'))
    await list.setArchivedShown('a', false)
    expect(list.items.map((c) => c.id)).toEqual(['a', 'b'])
    // With the place it had, it goes back there (not by its new date).
    vi.mocked(api.updateConversation).mockResolvedValueOnce(conv('b', { archived: true }))
    await list.setArchived('b', true)
    vi.mocked(api.updateConversation).mockResolvedValueOnce(
      conv('b', { updated_at: '2027-01-01T00:00:00Z' }),
    )
    await list.setArchivedShown('b', false, 1)
    expect(list.items.map((c) => c.id)).toEqual(['a', 'b'])
    expect(api.updateConversation).toHaveBeenLastCalledWith('b', { archived: false })
  })

  it('a list that failed for want of a network loads again when the network returns', async () => {
    const { ApiError } = await import('@/api/http')
    vi.mocked(api.listConversations)
      .mockRejectedValueOnce(new ApiError(0, 'network_error', 'The server could not be reached.'))
      .mockResolvedValueOnce({ conversations: [conv('a')], next_cursor: null })
    const list = useConversationsStore()
    await list.load()
    expect(list.error?.code).toBe('network_error')
    window.dispatchEvent(new Event('online'))
    await vi.waitFor(() => expect(list.error).toBeNull())
    expect(list.items.map((c) => c.id)).toEqual(['a'])
  })
})
