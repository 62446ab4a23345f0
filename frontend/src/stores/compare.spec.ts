import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'

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
    ...['m2', 'm3'].map((id) => ({
      id,
      name: `Model ${id.slice(1)}`,
      vendor: 'x',
      description: '',
      connection_id: 'c',
      context_window: 1,
      available: true,
    })),
  ]),
}))

const api = await import('@/api/conversations')
const { useChatStore } = await import('./chat')
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

describe('chat store, several models side by side', () => {
  beforeEach(async () => {
    setActivePinia(createPinia())
    vi.clearAllMocks()
    await useModelsStore().load()
  })

  const question = msg('u1', 'user', 'which?')
  const created = (ids: string[]) =>
    ev('message', {
      user_message: question,
      assistant_message: msg(ids[0]!, 'assistant', '', { status: 'streaming' }),
      assistant_message_id: ids[0],
      assistant_message_ids: ids,
      assistant_messages: ids.map((id, i) =>
        msg(id, 'assistant', '', {
          status: 'streaming',
          model_id: `m${i + 1}`,
          parent_id: 'u1',
          sibling_ids: ids,
        }),
      ),
    })

  it('adds models to compare, never one twice, at most three in all', () => {
    const chat = useChatStore()
    chat.startNew()
    expect(chat.askedModelIds).toEqual(['m1'])
    expect(chat.addCompareModel()).toBe(true)
    expect(chat.askedModelIds).toEqual(['m1', 'm2'])
    expect(chat.addCompareModel()).toBe(true)
    expect(chat.askedModelIds).toEqual(['m1', 'm2', 'm3'])
    expect(chat.addCompareModel()).toBe(false)
    // The same model twice is refused.
    chat.setCompareModel(0, 'm3')
    chat.setCompareModel(0, 'm1')
    expect(chat.compareModelIds).toEqual(['m2', 'm3'])
    chat.removeCompareModel(0)
    expect(chat.askedModelIds).toEqual(['m1', 'm3'])
    // The main model becoming a compared one does not ask it twice.
    chat.modelId = 'm3'
    expect(chat.askedModelIds).toEqual(['m3'])
  })

  it('sends model_ids and streams each answer into its own column until all have ended', async () => {
    const stream = controllable()
    vi.mocked(api.getConversation).mockResolvedValue(detail([]))
    vi.mocked(api.streamSend).mockImplementation(stream.impl as typeof api.streamSend)
    const chat = useChatStore()
    await chat.open('c1')
    chat.addCompareModel()
    expect(await chat.send('which?')).toBe(true)
    expect(stream.started).toHaveBeenCalledWith(
      'c1',
      { content: 'which?', model_ids: ['m1', 'm2'] },
      expect.anything(),
    )
    stream.push(created(['a1', 'a2']))
    expect(chat.sideBySide?.answers.map((m) => m.id)).toEqual(['a1', 'a2'])
    stream.push(ev('delta', { content: 'one', message_id: 'a1' }, '1,0'))
    stream.push(ev('delta', { content: 'two', message_id: 'a2' }, '1,1'))
    stream.push(ev('delta', { content: '!', message_id: 'a2' }, '1,2'))
    await flushFrames()
    expect(chat.sideBySide?.answers.map((m) => m.content)).toEqual(['one', 'two!'])
    // The thread holds the question and the first answer only.
    expect(chat.messages.map((m) => [m.id, m.content])).toEqual([
      ['u1', 'which?'],
      ['a1', 'one'],
    ])

    stream.push(ev('done', msg('a2', 'assistant', 'two!', { sibling_ids: ['a1', 'a2'] })))
    expect(chat.streaming).toBe(true)
    stream.push(ev('done', msg('a1', 'assistant', 'one', { sibling_ids: ['a1', 'a2'] })))
    stream.end()
    expect(chat.streaming).toBe(false)
    expect(chat.sideBySide?.answers.map((m) => m.status)).toEqual(['complete', 'complete'])
  })

  it('one answer failing marks its column and the others go on', async () => {
    const stream = controllable()
    vi.mocked(api.getConversation).mockResolvedValue(detail([]))
    vi.mocked(api.streamSend).mockImplementation(stream.impl as typeof api.streamSend)
    const chat = useChatStore()
    await chat.open('c1')
    chat.addCompareModel()
    await chat.send('which?')
    stream.push(created(['a1', 'a2']))
    stream.push(ev('delta', { content: 'par', message_id: 'a2' }, '0,1'))
    stream.push(
      ev('error', {
        error: 'upstream broke',
        code: 'upstream_error',
        message_id: 'a2',
        message: msg('a2', 'assistant', 'par', { status: 'error' }),
      }),
    )
    expect(chat.streaming).toBe(true)
    expect(chat.sideBySide?.answers[1]).toMatchObject({ status: 'error', content: 'par' })
    stream.push(ev('delta', { content: 'fine', message_id: 'a1' }, '1,1'))
    stream.push(ev('done', msg('a1', 'assistant', 'fine')))
    expect(chat.streaming).toBe(false)
    expect(chat.sideBySide?.answers.map((m) => m.status)).toEqual(['complete', 'error'])
  })

  it('keeps an answer through the branch switch and shows the thread from it', async () => {
    const stream = controllable()
    vi.mocked(api.getConversation)
      .mockResolvedValueOnce(detail([]))
      .mockResolvedValueOnce(
        detail([question, msg('a2', 'assistant', 'two', { sibling_ids: ['a1', 'a2'] })]),
      )
    vi.mocked(api.streamSend).mockImplementation(stream.impl as typeof api.streamSend)
    vi.mocked(api.updateConversation).mockResolvedValue(detail([]))
    const chat = useChatStore()
    await chat.open('c1')
    chat.addCompareModel()
    await chat.send('which?')
    stream.push(created(['a1', 'a2']))
    stream.push(ev('done', msg('a1', 'assistant', 'one')))
    stream.push(ev('done', msg('a2', 'assistant', 'two')))
    stream.end()
    expect(await chat.keepAnswer('a2')).toBe(true)
    expect(api.updateConversation).toHaveBeenCalledWith('c1', { current_message_id: 'a2' })
    expect(chat.sideBySide).toBeNull()
    expect(chat.messages.map((m) => m.id)).toEqual(['u1', 'a2'])
    expect(chat.messages[1]?.sibling_ids).toEqual(['a1', 'a2'])
  })

  it('stop marks every column stopped', async () => {
    const stream = controllable()
    vi.mocked(api.getConversation).mockResolvedValue(detail([]))
    vi.mocked(api.streamSend).mockImplementation(stream.impl as typeof api.streamSend)
    vi.mocked(api.stopGeneration).mockResolvedValue({
      message: msg('a1', 'assistant', 'o', { status: 'stopped' }),
    })
    const chat = useChatStore()
    await chat.open('c1')
    chat.addCompareModel()
    chat.addCompareModel()
    await chat.send('which?')
    stream.push(created(['a1', 'a2', 'a3']))
    stream.push(ev('delta', { content: 'o', message_id: 'a1' }, '1,0,0'))
    await chat.stop()
    expect(chat.streaming).toBe(false)
    expect(chat.sideBySide?.answers.map((m) => m.status)).toEqual(['stopped', 'stopped', 'stopped'])
  })
})
