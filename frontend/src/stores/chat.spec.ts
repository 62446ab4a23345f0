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
  streamEditMessage: vi.fn(),
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

  it('sends uploaded files as file_ids, in order; the question shows them at once', async () => {
    const stream = controllable()
    vi.mocked(api.getConversation).mockResolvedValue(detail([]))
    vi.mocked(api.streamSend).mockImplementation(stream.impl as typeof api.streamSend)
    const chat = useChatStore()
    await chat.open('c1')
    const file = (id: string, kind: 'image' | 'document') => ({
      id,
      name: `${id}.${kind === 'image' ? 'png' : 'pdf'}`,
      size: 10,
      mime: kind === 'image' ? 'image/png' : 'application/pdf',
      kind,
      created_at: '2026-12-04T10:00:00Z',
    })
    const files = [file('f2', 'image'), file('f1', 'document')]
    expect(await chat.send('', [], files)).toBe(true)
    expect(stream.started).toHaveBeenCalledWith(
      'c1',
      { content: '', model_id: 'm1', file_ids: ['f2', 'f1'] },
      expect.anything(),
    )
    expect(chat.messages[0]?.files?.map((f) => f.id)).toEqual(['f2', 'f1'])
    // Neither text nor files: nothing to send.
    stream.end()
    expect(await chat.send('   ', [], [])).toBe(false)
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
    expect(chat.returnedDraft).toEqual({ conversationId: 'c1', text: '한 번 더' })
    expect(chat.failed, 'a refusal is not retried').toBeNull()
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

  it('a question that never reached the server (offline) is rolled back, given back, and retried once', async () => {
    const { ApiError } = await import('@/api/http')
    // A new answer each time (the store may change the array it is given).
    vi.mocked(api.getConversation).mockImplementation(async () =>
      detail([msg('u1', 'user', 'first'), msg('a1', 'assistant', 'one')]),
    )
    vi.mocked(api.streamSend).mockRejectedValueOnce(
      new ApiError(0, 'network_error', 'Failed to fetch'),
    )
    const chat = useChatStore()
    await chat.open('c1')
    expect(await chat.send('second')).toBe(true)
    await vi.waitFor(() => expect(chat.streaming).toBe(false))
    // Nothing doubled, nothing spinning: the thread as it was, the text back, a retry.
    expect(chat.messages.map((m) => m.id)).toEqual(['u1', 'a1'])
    expect(chat.returnedDraft).toEqual({ conversationId: 'c1', text: 'second' })
    expect(chat.failed).toMatchObject({ kind: 'send', text: 'second', knownLastUserId: 'u1' })
    expect(chat.actionError?.code).toBe('network_error')
    expect(api.streamAttach).not.toHaveBeenCalled()

    // The network is back: the stale error goes, the retry stays.
    chat.networkBack()
    expect(chat.actionError).toBeNull()
    expect(chat.failed).not.toBeNull()

    // Retry: the server does not have it (checked first), so it is sent, once.
    const stream = controllable()
    vi.mocked(api.streamSend).mockImplementation(stream.impl as typeof api.streamSend)
    vi.mocked(api.getConversation).mockClear()
    expect(await chat.send('second')).toBe(true)
    expect(api.getConversation).toHaveBeenCalledTimes(1)
    expect(stream.started).toHaveBeenCalledTimes(1)
    expect(chat.failed).toBeNull()
    stream.push(
      ev('message', {
        user_message: msg('u2', 'user', 'second'),
        assistant_message: msg('a2', 'assistant', '', { status: 'streaming' }),
      }),
    )
    stream.push(ev('done', msg('a2', 'assistant', 'two')))
    stream.end()
    expect(chat.messages.map((m) => m.id)).toEqual(['u1', 'a1', 'u2', 'a2'])
  })

  it('a retry does not ask twice when the lost request did reach the server', async () => {
    const { ApiError } = await import('@/api/http')
    vi.mocked(api.getConversation).mockResolvedValue(detail([msg('u1', 'user', 'first')]))
    vi.mocked(api.streamSend).mockRejectedValueOnce(new ApiError(0, 'network_error', 'offline'))
    const chat = useChatStore()
    await chat.open('c1')
    await chat.send('second')
    await vi.waitFor(() => expect(chat.failed).not.toBeNull())
    vi.mocked(api.getConversation).mockResolvedValue(
      detail([
        msg('u1', 'user', 'first'),
        msg('a1', 'assistant', 'one'),
        msg('u2', 'user', 'second'),
        msg('a2', 'assistant', 'two'),
      ]),
    )
    vi.mocked(api.streamSend).mockClear()
    expect(await chat.send('second')).toBe(true)
    expect(api.streamSend).not.toHaveBeenCalled()
    expect(chat.messages.map((m) => m.id)).toEqual(['u1', 'a1', 'u2', 'a2'])
  })

  it('a new chat that cannot be created keeps the question for a retry', async () => {
    const { ApiError } = await import('@/api/http')
    vi.mocked(api.createConversation).mockRejectedValueOnce(
      new ApiError(0, 'network_error', 'offline'),
    )
    const chat = useChatStore()
    chat.startNew()
    expect(await chat.send('hello')).toBe(false)
    expect(chat.failed).toMatchObject({ kind: 'send', conversationId: null, text: 'hello' })
    expect(chat.messages).toEqual([])
  })

  it('a stream that cannot be re-joined ends within seconds with the saved answer', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] })
    const { ApiError } = await import('@/api/http')
    const first = controllable()
    vi.mocked(api.getConversation).mockResolvedValue(detail([msg('u1', 'user', 'q')]))
    vi.mocked(api.streamSend).mockImplementation(first.impl as typeof api.streamSend)
    vi.mocked(api.streamAttach).mockRejectedValue(new ApiError(0, 'network_error', 'offline'))
    const chat = useChatStore()
    await chat.open('c1')
    await chat.send('more')
    first.push(
      ev('message', {
        user_message: msg('u2', 'user', 'more'),
        assistant_message: msg('a2', 'assistant', '', { status: 'streaming' }),
      }),
    )
    first.push(ev('delta', { content: 'abc' }, '1'))
    vi.mocked(api.getConversation).mockResolvedValue(
      detail([
        msg('u1', 'user', 'q'),
        msg('a1', 'assistant', 'a'),
        msg('u2', 'user', 'more'),
        msg('a2', 'assistant', 'abc and the rest'),
      ]),
    )
    first.end() // the connection broke
    await vi.advanceTimersByTimeAsync(5000)
    expect(vi.mocked(api.streamAttach).mock.calls.length).toBeLessThanOrEqual(4)
    expect(chat.streaming).toBe(false)
    expect(chat.messages.at(-1)).toMatchObject({ content: 'abc and the rest', status: 'complete' })
    expect(chat.interruptedId).toBeNull()
  })

  it('offline, an unfinished answer is marked interrupted, and read again when the network is back', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout'] })
    const { ApiError } = await import('@/api/http')
    const offline = new ApiError(0, 'network_error', 'offline')
    const first = controllable()
    vi.mocked(api.getConversation).mockResolvedValue(detail([msg('u1', 'user', 'q')]))
    vi.mocked(api.streamSend).mockImplementation(first.impl as typeof api.streamSend)
    vi.mocked(api.streamAttach).mockRejectedValue(offline)
    const chat = useChatStore()
    await chat.open('c1')
    await chat.send('more')
    first.push(
      ev('message', { assistant_message: msg('a2', 'assistant', '', { status: 'streaming' }) }),
    )
    vi.mocked(api.getConversation).mockRejectedValue(offline)
    first.end()
    await vi.advanceTimersByTimeAsync(5000)
    expect(chat.streaming).toBe(false)
    expect(chat.interruptedId).toBe('a2')
    expect(chat.messages.at(-1)?.status).toBe('error')

    vi.mocked(api.getConversation).mockResolvedValue(
      detail([msg('u1', 'user', 'q'), msg('u2', 'user', 'more'), msg('a2', 'assistant', 'done')]),
    )
    chat.networkBack()
    await vi.advanceTimersByTimeAsync(10)
    expect(chat.interruptedId).toBeNull()
    expect(chat.messages.at(-1)).toMatchObject({ id: 'a2', content: 'done', status: 'complete' })
  })

  it('edits an earlier question: a new branch from there through PATCH …/messages/{id}', async () => {
    const stream = controllable()
    const thread = [
      msg('u1', 'user', 'one'),
      msg('a1', 'assistant', 'A1', { parent_id: 'u1' }),
      msg('u2', 'user', 'two', { parent_id: 'a1' }),
      msg('a2', 'assistant', 'A2', { parent_id: 'u2' }),
    ]
    vi.mocked(api.getConversation).mockResolvedValue(detail(thread))
    vi.mocked(api.streamEditMessage).mockImplementation(stream.impl as typeof api.streamEditMessage)
    const chat = useChatStore()
    await chat.open('c1')
    expect(await chat.edit(chat.messages[0]!, 'ONE')).toBe(true)
    expect(api.streamEditLast).not.toHaveBeenCalled()
    expect(stream.started).toHaveBeenCalledWith(
      'c1',
      'u1',
      { content: 'ONE', model_id: 'm1' },
      expect.anything(),
    )
    expect(chat.messages.map((m) => [m.role, m.content])).toEqual([
      ['user', 'ONE'],
      ['assistant', ''],
    ])
    stream.push(
      ev('message', {
        user_message: msg('u3', 'user', 'ONE', { sibling_ids: ['u1', 'u3'] }),
        assistant_message: msg('a3', 'assistant', '', { status: 'streaming' }),
      }),
    )
    stream.push(ev('done', msg('a3', 'assistant', 'new')))
    stream.end()
    expect(chat.messages.map((m) => m.id)).toEqual(['u3', 'a3'])
    expect(chat.messages[0]?.sibling_ids).toEqual(['u1', 'u3'])
  })

  it('an edit that fails puts the thread back and reopens the editor with the text', async () => {
    const { ApiError } = await import('@/api/http')
    const thread = [
      msg('u1', 'user', 'one'),
      msg('a1', 'assistant', 'A1'),
      msg('u2', 'user', 'two'),
      msg('a2', 'assistant', 'A2'),
    ]
    vi.mocked(api.getConversation).mockResolvedValue(detail(thread))
    vi.mocked(api.streamEditMessage).mockRejectedValue(new ApiError(0, 'network_error', 'x'))
    const chat = useChatStore()
    await chat.open('c1')
    await chat.edit(chat.messages[0]!, 'ONE')
    await vi.waitFor(() => expect(chat.streaming).toBe(false))
    expect(chat.messages.map((m) => m.id)).toEqual(['u1', 'a1', 'u2', 'a2'])
    expect(chat.returnedEdit).toEqual({ messageId: 'u1', text: 'ONE' })
  })

  it('a thumbs down with reasons and a comment is sent and shown', async () => {
    vi.mocked(api.getConversation).mockResolvedValue(
      detail([msg('u1', 'user', 'q'), msg('a1', 'assistant', 'a')]),
    )
    vi.mocked(api.sendFeedback).mockResolvedValue({ rating: 'down', comment: 'too long' })
    const chat = useChatStore()
    await chat.open('c1')
    const ok = await chat.rate(chat.messages[1]!, 'down', {
      reasons: ['too_verbose', 'incorrect'],
      comment: ' too long ',
    })
    expect(ok).toBe(true)
    expect(api.sendFeedback).toHaveBeenCalledWith('c1', 'a1', 'down', {
      reasons: ['too_verbose', 'incorrect'],
      comment: 'too long',
    })
    expect(chat.messages[1]?.feedback).toEqual({
      rating: 'down',
      reasons: ['too_verbose', 'incorrect'],
      comment: 'too long',
    })
  })
})
