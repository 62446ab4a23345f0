import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import type { StreamHandlers } from '@/api/conversations'
import type { SseEvent } from '@/api/sse'
import type { ConversationDetail, Message } from '@/api/types'

vi.mock('@/api/conversations', () => ({
  listConversations: vi.fn(async () => ({ conversations: [], next_cursor: null })),
  createConversation: vi.fn(),
  getConversation: vi.fn(),
  updateConversation: vi.fn(),
  deleteConversation: vi.fn(),
  stopGeneration: vi.fn(),
  sendFeedback: vi.fn(),
  streamSend: vi.fn(),
  streamEditLast: vi.fn(),
  streamRegenerate: vi.fn(),
  streamAttach: vi.fn(),
}))
vi.mock('@/api/models', () => ({
  listModels: vi.fn(async () => [
    {
      id: 'm1',
      name: 'Model 1',
      vendor: 'x',
      description: '',
      connection_id: 'c',
      context_window: 1,
      available: true,
    },
  ]),
}))

const api = await import('@/api/conversations')
const { useChatStore, PENDING_ASSISTANT } = await import('./chat')
const { useModelsStore } = await import('./models')

function msg(
  id: string,
  role: 'user' | 'assistant',
  content: string,
  over: Partial<Message> = {},
): Message {
  return {
    id,
    idx: 0,
    role,
    content,
    model_id: 'm1',
    status: 'complete',
    parent_id: null,
    sibling_ids: [id],
    usage: null,
    feedback: null,
    created_at: '2024-01-01T00:00:00Z',
    updated_at: '2024-01-01T00:00:00Z',
    ...over,
  }
}

function detail(messages: Message[]): ConversationDetail {
  return {
    id: 'c1',
    title: 'Hello',
    model_id: 'm1',
    pinned: false,
    archived: false,
    message_count: messages.length,
    created_at: '2024-01-01T00:00:00Z',
    updated_at: '2024-01-01T00:00:00Z',
    system_prompt: null,
    current_message_id: messages.at(-1)?.id ?? null,
    messages,
  }
}

const ev = (event: string, data: unknown, id: string | null = null): SseEvent => ({
  event,
  data: JSON.stringify(data),
  id,
})

/** A controllable stream: the test pushes events, then ends it. */
function controllable() {
  let handlers: StreamHandlers | null = null
  let end: () => void = () => undefined
  const started = vi.fn()
  const impl = (...args: unknown[]) => {
    handlers = args[args.length - 1] as StreamHandlers
    started(...args)
    return new Promise<void>((resolve) => (end = resolve))
  }
  return {
    impl,
    started,
    push: (event: SseEvent) => handlers!.onEvent(event),
    end: () => end(),
  }
}

async function flushFrames(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 40))
}

describe('chat store', () => {
  beforeEach(async () => {
    setActivePinia(createPinia())
    vi.clearAllMocks()
    await useModelsStore().load()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('sends a first question: creates the conversation, shows placeholders at once, streams the answer', async () => {
    const stream = controllable()
    vi.mocked(api.createConversation).mockResolvedValue(detail([]))
    vi.mocked(api.streamSend).mockImplementation(stream.impl as typeof api.streamSend)
    const chat = useChatStore()
    chat.startNew()
    expect(chat.modelId).toBe('m1')

    expect(await chat.send('  안녕?  ')).toBe(true)
    expect(api.createConversation).toHaveBeenCalledWith({ model_id: 'm1' })
    expect(chat.conversationId).toBe('c1')
    expect(chat.messages.map((m) => [m.role, m.content, m.status])).toEqual([
      ['user', '안녕?', 'complete'],
      ['assistant', '', 'streaming'],
    ])
    expect(chat.streaming).toBe(true)
    expect(stream.started).toHaveBeenCalledWith(
      'c1',
      { content: '안녕?', model_id: 'm1' },
      expect.anything(),
    )

    stream.push(
      ev('message', {
        user_message: msg('u1', 'user', '안녕?'),
        assistant_message: msg('a1', 'assistant', '', { status: 'streaming' }),
      }),
    )
    stream.push(ev('delta', { content: '안녕' }, '1'))
    stream.push(ev('delta', { content: '하세요' }, '2'))
    await flushFrames()
    expect(chat.messages.map((m) => m.id)).toEqual(['u1', 'a1'])
    expect(chat.messages[1]?.content).toBe('안녕하세요')

    stream.push(ev('done', msg('a1', 'assistant', '안녕하세요!')))
    stream.end()
    expect(chat.streaming).toBe(false)
    expect(chat.messages[1]).toMatchObject({ content: '안녕하세요!', status: 'complete' })
  })

  it('paints deltas once per frame, not once per delta', async () => {
    const stream = controllable()
    vi.mocked(api.getConversation).mockResolvedValue(detail([msg('u1', 'user', 'q')]))
    vi.mocked(api.streamRegenerate).mockImplementation(stream.impl as typeof api.streamRegenerate)
    const chat = useChatStore()
    await chat.open('c1')
    chat.messages.push(msg('a0', 'assistant', 'old'))
    await chat.regenerate()
    stream.push(
      ev('message', { assistant_message: msg('a1', 'assistant', '', { status: 'streaming' }) }),
    )
    for (let i = 0; i < 50; i++) stream.push(ev('delta', { content: 'x' }, String(i)))
    expect(chat.messages[1]?.content).toBe('') // nothing painted yet
    await flushFrames()
    expect(chat.messages[1]?.content).toBe('x'.repeat(50))
  })

  it('a send refused by the plan (429) gives the question back', async () => {
    const { ApiError } = await import('@/api/http')
    vi.mocked(api.getConversation).mockResolvedValue(detail([]))
    vi.mocked(api.streamSend).mockRejectedValue(
      new ApiError(429, 'daily_limit_reached', 'you have used all 1 messages', {}, 60),
    )
    const chat = useChatStore()
    await chat.open('c1')
    await chat.send('한 번 더')
    await vi.waitFor(() => expect(chat.actionError?.status).toBe(429))
    expect(chat.messages).toEqual([])
    expect(chat.refusedText).toBe('한 번 더')
  })

  it('a refused send (409) removes the placeholders and reports the error', async () => {
    vi.mocked(api.getConversation).mockImplementation(async () =>
      detail([msg('u1', 'user', 'q'), msg('a1', 'assistant', 'a')]),
    )
    const { ApiError } = await import('@/api/http')
    vi.mocked(api.streamSend).mockRejectedValue(new ApiError(409, 'generation_in_progress', 'busy'))
    const chat = useChatStore()
    await chat.open('c1')
    await chat.send('again')
    await flushFrames()
    expect(chat.messages.map((m) => m.id)).toEqual(['u1', 'a1'])
    expect(chat.actionError?.code).toBe('generation_in_progress')
    expect(chat.streaming).toBe(false)
  })

  it('re-attaches to an answer still streaming when a conversation is opened (a reload)', async () => {
    const stream = controllable()
    vi.mocked(api.getConversation).mockResolvedValue(
      detail([
        msg('u1', 'user', 'q'),
        msg('a1', 'assistant', 'partial te', { status: 'streaming' }),
      ]),
    )
    vi.mocked(api.streamAttach).mockImplementation(stream.impl as typeof api.streamAttach)
    const chat = useChatStore()
    await chat.open('c1')
    expect(api.streamAttach).toHaveBeenCalledWith(
      'c1',
      expect.objectContaining({ lastEventId: null }),
    )
    expect(chat.streaming).toBe(true)
    // The server replays from the start: the first painted frame replaces the saved text.
    stream.push(ev('delta', { content: 'partial ' }, '1'))
    stream.push(ev('delta', { content: 'text and more' }, '2'))
    await flushFrames()
    expect(chat.messages[1]?.content).toBe('partial text and more')
    stream.push(ev('done', msg('a1', 'assistant', 'partial text and more.')))
    expect(chat.streaming).toBe(false)
  })

  it('re-joins a dropped stream with Last-Event-ID', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] })
    const first = controllable()
    const second = controllable()
    vi.mocked(api.getConversation).mockResolvedValue(detail([msg('u1', 'user', 'q')]))
    vi.mocked(api.streamSend).mockImplementation(first.impl as typeof api.streamSend)
    vi.mocked(api.streamAttach).mockImplementation(second.impl as typeof api.streamAttach)
    const chat = useChatStore()
    await chat.open('c1')
    await chat.send('more')
    first.push(
      ev('message', { assistant_message: msg('a2', 'assistant', '', { status: 'streaming' }) }),
    )
    first.push(ev('delta', { content: 'abc' }, '3'))
    first.end() // the connection closed without done
    await vi.advanceTimersByTimeAsync(300)
    expect(api.streamAttach).toHaveBeenCalledWith(
      'c1',
      expect.objectContaining({ lastEventId: '3' }),
    )
    second.push(ev('delta', { content: 'def' }, '4'))
    await vi.advanceTimersByTimeAsync(40)
    expect(chat.messages.at(-1)?.content).toBe('abcdef')
    second.push(ev('done', msg('a2', 'assistant', 'abcdef')))
    expect(chat.streaming).toBe(false)
  })

  it('edit-last replaces the last pair and keeps the old one as a version', async () => {
    const stream = controllable()
    vi.mocked(api.getConversation).mockResolvedValue(
      detail([msg('u1', 'user', 'first'), msg('a1', 'assistant', 'answer')]),
    )
    vi.mocked(api.streamEditLast).mockImplementation(stream.impl as typeof api.streamEditLast)
    const chat = useChatStore()
    await chat.open('c1')
    await chat.editLast('second')
    expect(chat.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'second'],
      ['assistant', ''],
    ])
    stream.push(
      ev('message', {
        user_message: msg('u2', 'user', 'second', { sibling_ids: ['u1', 'u2'] }),
        assistant_message: msg('a2', 'assistant', '', { status: 'streaming' }),
      }),
    )
    stream.push(ev('done', msg('a2', 'assistant', 'new answer')))
    expect(chat.messages.map((m) => m.id)).toEqual(['u2', 'a2'])
    expect(chat.messages[0]?.sibling_ids).toEqual(['u1', 'u2'])
  })

  it('stop keeps the partial answer as stopped', async () => {
    const stream = controllable()
    vi.mocked(api.getConversation).mockResolvedValue(detail([msg('u1', 'user', 'q')]))
    vi.mocked(api.streamSend).mockImplementation(stream.impl as typeof api.streamSend)
    vi.mocked(api.stopGeneration).mockResolvedValue({
      message: msg('a1', 'assistant', 'part', { status: 'stopped' }),
    })
    const chat = useChatStore()
    await chat.open('c1')
    await chat.send('go')
    stream.push(
      ev('message', { assistant_message: msg('a1', 'assistant', '', { status: 'streaming' }) }),
    )
    stream.push(ev('delta', { content: 'part' }, '1'))
    await chat.stop()
    expect(api.stopGeneration).toHaveBeenCalledWith('c1')
    expect(chat.streaming).toBe(false)
    expect(chat.messages.at(-1)).toMatchObject({ id: 'a1', content: 'part', status: 'stopped' })
  })

  it('switches versions by moving current_message_id and reloading the thread', async () => {
    const a1 = msg('a1', 'assistant', 'one', { sibling_ids: ['a1', 'a2'] })
    vi.mocked(api.getConversation)
      .mockResolvedValueOnce(
        detail([
          msg('u1', 'user', 'q'),
          msg('a2', 'assistant', 'two', { sibling_ids: ['a1', 'a2'] }),
        ]),
      )
      .mockResolvedValueOnce(detail([msg('u1', 'user', 'q'), a1]))
    vi.mocked(api.updateConversation).mockResolvedValue(detail([]))
    const chat = useChatStore()
    await chat.open('c1')
    await chat.switchVersion(chat.messages[1]!, -1)
    expect(api.updateConversation).toHaveBeenCalledWith('c1', { current_message_id: 'a1' })
    expect(chat.messages[1]?.content).toBe('one')
  })

  it('an error event keeps the partial text and marks the answer failed', async () => {
    const stream = controllable()
    vi.mocked(api.getConversation).mockResolvedValue(detail([]))
    vi.mocked(api.streamSend).mockImplementation(stream.impl as typeof api.streamSend)
    const chat = useChatStore()
    await chat.open('c1')
    await chat.send('q')
    stream.push(
      ev('message', { assistant_message: msg('a1', 'assistant', '', { status: 'streaming' }) }),
    )
    stream.push(ev('delta', { content: 'half' }, '1'))
    stream.push(ev('error', { error: 'upstream failed', code: 'upstream_error' }))
    expect(chat.messages.at(-1)).toMatchObject({
      content: 'half',
      status: 'error',
      error: 'upstream failed',
    })
    expect(chat.streaming).toBe(false)
    expect(chat.messages.some((m) => m.id === PENDING_ASSISTANT)).toBe(false)
  })

  it('sends attached collector items and announces a finished answer in a hidden tab', async () => {
    const shown: Array<{ title: string; body?: string }> = []
    class FakeNotification {
      static permission = 'granted'
      onclick: (() => void) | null = null
      constructor(title: string, options?: { body?: string }) {
        shown.push({ title, body: options?.body })
      }
      close(): void {}
    }
    vi.stubGlobal('Notification', FakeNotification)
    const visibility = vi.spyOn(document, 'visibilityState', 'get').mockReturnValue('hidden')
    try {
      const { useSettingsStore } = await import('./settings')
      useSettingsStore().notifyOnComplete = true
      const stream = controllable()
      vi.mocked(api.getConversation).mockResolvedValue(detail([]))
      vi.mocked(api.streamSend).mockImplementation(stream.impl as typeof api.streamSend)
      const chat = useChatStore()
      await chat.open('c1')
      await chat.send('요약해 줘', ['item-1', 'item-2'])
      expect(stream.started).toHaveBeenCalledWith(
        'c1',
        { content: '요약해 줘', model_id: 'm1', collector_item_ids: ['item-1', 'item-2'] },
        expect.anything(),
      )
      stream.push(
        ev('message', {
          user_message: msg('u1', 'user', '요약해 줘'),
          assistant_message: msg('a1', 'assistant', '', { status: 'streaming' }),
        }),
      )
      stream.push(ev('done', msg('a1', 'assistant', '요약입니다.')))
      stream.end()
      expect(shown).toEqual([{ title: 'Answer ready: Hello', body: '요약입니다.' }])

      // Turned off: nothing more.
      useSettingsStore().notifyOnComplete = false
      const again = controllable()
      vi.mocked(api.streamSend).mockImplementation(again.impl as typeof api.streamSend)
      await chat.send('또')
      again.push(ev('done', msg('a2', 'assistant', '또요')))
      again.end()
      expect(shown).toHaveLength(1)
    } finally {
      visibility.mockRestore()
      vi.unstubAllGlobals()
    }
  })
})
