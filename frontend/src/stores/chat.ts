import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'

import * as api from '@/api/conversations'
import { ApiError, toApiErrorValue } from '@/api/http'
import type { SseEvent } from '@/api/sse'
import type { ConversationDetail, Message } from '@/api/types'
import { i18n } from '@/i18n'
import { playChime, shouldNotify, showNotification } from '@/lib/notify'
import { useConversationsStore } from '@/stores/conversations'
import { useModelsStore } from '@/stores/models'
import { useSettingsStore } from '@/stores/settings'

/** Ids of the messages shown before the server has answered with the real ones. */
export const PENDING_USER = 'pending-user'
export const PENDING_ASSISTANT = 'pending-assistant'

/** How often a broken stream is re-joined (with `Last-Event-ID`) before giving up. */
const MAX_RECONNECTS = 5

/** Runs `fn` on the next animation frame (or soon, where there are no frames). */
function nextFrame(fn: () => void): void {
  if (typeof requestAnimationFrame === 'function' && document.visibilityState === 'visible') {
    requestAnimationFrame(fn)
  } else {
    setTimeout(fn, 16)
  }
}

function placeholder(id: string, role: 'user' | 'assistant', content = ''): Message {
  const now = new Date().toISOString()
  return {
    id,
    idx: -1,
    role,
    content,
    model_id: null,
    status: role === 'assistant' ? 'streaming' : 'complete',
    parent_id: null,
    sibling_ids: [id],
    usage: null,
    feedback: null,
    created_at: now,
    updated_at: now,
  }
}

/** What a running stream is about: which conversation, and which answer it fills. */
interface StreamState {
  conversationId: string
  assistantId: string
  lastEventId: string | null
  /** Text received but not painted yet (painted once per animation frame). */
  pending: string
  /** The next delta replaces the content instead of extending it (re-joining from the start). */
  resetOnDelta: boolean
  finished: boolean
  controller: AbortController
}

/** The open conversation: its thread, the answer being streamed, and every chat action. */
export const useChatStore = defineStore('chat', () => {
  const conversation = ref<ConversationDetail | null>(null)
  const messages = ref<Message[]>([])
  const loading = ref(false)
  const loadError = ref<ApiError | null>(null)
  /** The last action's error (send refused, stream failed…), shown by the message box. */
  const actionError = ref<ApiError | null>(null)
  const modelId = ref<string | null>(null)
  /** A question the server refused before answering (plan limit…): the box shows it again. */
  const refusedText = ref<string | null>(null)
  const stream = shallowRef<StreamState | null>(null)
  let openGeneration = 0

  const streaming = computed(() => stream.value !== null)
  const conversationId = computed(() => conversation.value?.id ?? null)
  const visibleMessages = computed(() => messages.value.filter((m) => m.role !== 'system'))
  const lastUser = computed(() => [...messages.value].reverse().find((m) => m.role === 'user'))
  const lastAssistant = computed(() => {
    const last = messages.value[messages.value.length - 1]
    return last?.role === 'assistant' ? last : undefined
  })

  function replaceMessage(id: string, next: Message): void {
    const index = messages.value.findIndex((m) => m.id === id)
    if (index >= 0) messages.value.splice(index, 1, next)
    else messages.value.push(next)
  }

  function findMessage(id: string): Message | undefined {
    return messages.value.find((m) => m.id === id)
  }

  function pickModel(detail: ConversationDetail | null): void {
    const models = useModelsStore()
    const settings = useSettingsStore()
    modelId.value = models.pick(
      modelId.value && !detail ? modelId.value : null,
      detail?.model_id,
      settings.defaultModelId,
    )
  }

  /** Leaves the current conversation's stream (the server goes on generating). */
  function detach(): void {
    const current = stream.value
    if (current) {
      current.finished = true
      current.controller.abort()
    }
    stream.value = null
  }

  /** An empty "new chat". */
  function startNew(): void {
    openGeneration++
    detach()
    conversation.value = null
    messages.value = []
    loadError.value = null
    actionError.value = null
    loading.value = false
    pickModel(null)
  }

  /** Opens a conversation; re-joins its answer if one is still being generated. */
  async function open(id: string, { force = false } = {}): Promise<void> {
    if (!force && conversation.value?.id === id && !loadError.value) return
    const mine = ++openGeneration
    detach()
    loading.value = true
    loadError.value = null
    actionError.value = null
    if (conversation.value?.id !== id) {
      conversation.value = null
      messages.value = []
    }
    try {
      const detail = await api.getConversation(id)
      if (mine !== openGeneration) return
      conversation.value = detail
      messages.value = detail.messages
      pickModel(detail)
      const last = lastAssistant.value
      if (last?.status === 'streaming') void attach(last.id)
    } catch (e) {
      if (mine === openGeneration) loadError.value = toApiErrorValue(e)
    } finally {
      if (mine === openGeneration) loading.value = false
    }
  }

  /** Reloads the thread (after a version switch, or when a stream could not be re-joined). */
  async function reload(): Promise<void> {
    if (conversation.value) await open(conversation.value.id, { force: true })
  }

  // --- streaming -------------------------------------------------------------------------

  function paint(state: StreamState): void {
    if (!state.pending && !state.resetOnDelta) return
    const message = findMessage(state.assistantId)
    if (!message) return
    const content = state.resetOnDelta ? state.pending : message.content + state.pending
    state.pending = ''
    state.resetOnDelta = false
    replaceMessage(message.id, { ...message, content })
  }

  let frameRequested = false
  function schedulePaint(state: StreamState): void {
    if (frameRequested) return
    frameRequested = true
    nextFrame(() => {
      frameRequested = false
      if (stream.value === state) paint(state)
    })
  }

  function handleEvent(state: StreamState, event: SseEvent): void {
    if (state.finished || stream.value !== state) return
    let data: unknown
    try {
      data = event.data ? JSON.parse(event.data) : {}
    } catch {
      return // not JSON: nothing we understand
    }
    switch (event.event) {
      case 'message': {
        const { user_message, assistant_message } = data as {
          user_message?: Message
          assistant_message?: Message
        }
        if (user_message) {
          const pendingUser = findMessage(PENDING_USER)
          // An edit replaces the last question; a new question replaces its placeholder.
          const target = pendingUser ?? lastUser.value
          if (target) replaceMessage(target.id, user_message)
        }
        if (assistant_message) {
          const previous = findMessage(state.assistantId)
          const content =
            previous && state.assistantId === assistant_message.id ? previous.content : ''
          replaceMessage(state.assistantId, {
            ...assistant_message,
            content: content || assistant_message.content,
          })
          state.assistantId = assistant_message.id
        }
        break
      }
      case 'delta': {
        const { content } = data as { content?: string }
        if (event.id) state.lastEventId = event.id
        if (typeof content === 'string') {
          state.pending += content
          schedulePaint(state)
        }
        break
      }
      case 'done': {
        state.pending = ''
        state.resetOnDelta = false
        const final = data as Message
        if (final && typeof final.id === 'string') replaceMessage(state.assistantId, final)
        finish(state)
        announce(findMessage(state.assistantId)?.content ?? '')
        break
      }
      case 'error': {
        paint(state)
        const { error, code } = data as { error?: string; code?: string }
        const message = findMessage(state.assistantId)
        if (message) {
          replaceMessage(message.id, {
            ...message,
            status: 'error',
            error: error ?? code ?? 'error',
          })
        }
        finish(state)
        break
      }
      default:
        break
    }
  }

  /** The answer is complete: tell a user who is looking at another tab (when they asked to). */
  function announce(text: string): void {
    const settings = useSettingsStore()
    if (typeof document === 'undefined' || document.visibilityState !== 'hidden') return
    if (shouldNotify(settings.notifyOnComplete)) {
      const title = conversation.value?.title || i18n.global.t('chat.untitled')
      showNotification(
        i18n.global.t('notify.answerReady', { title }),
        text,
        conversation.value?.id ?? 'daehwa',
      )
    }
    if (settings.notifySound) playChime()
  }

  function finish(state: StreamState): void {
    state.finished = true
    if (stream.value === state) stream.value = null
    state.controller.abort()
    afterAnswer(state.conversationId)
  }

  /** The server names a new conversation after its first answer: refresh the list twice. */
  function afterAnswer(conversationId: string): void {
    const list = useConversationsStore()
    void list.load()
    setTimeout(() => {
      void list.load()
      if (conversation.value?.id === conversationId) void refreshTitle(conversationId)
    }, 2000)
  }

  async function refreshTitle(conversationId: string): Promise<void> {
    const list = useConversationsStore()
    const fromList = list.items.find((c) => c.id === conversationId)
    if (fromList && conversation.value?.id === conversationId) {
      conversation.value = { ...conversation.value, title: fromList.title }
    }
  }

  /**
   * Runs one stream (send / edit / regenerate / attach) to its end, re-joining it with
   * `Last-Event-ID` when the connection breaks before `done`.
   */
  async function run(
    state: StreamState,
    start: (handlers: api.StreamHandlers & { lastEventId?: string | null }) => Promise<void>,
  ): Promise<void> {
    stream.value = state
    let opener = start
    for (let attempt = 0; ; attempt++) {
      try {
        await opener({
          onEvent: (event) => handleEvent(state, event),
          signal: state.controller.signal,
          lastEventId: state.lastEventId,
        })
      } catch (e) {
        if (state.finished) return
        const error = toApiErrorValue(e)
        if (e instanceof DOMException && e.name === 'AbortError') return
        // Refused before anything streamed (409, 422, 403…): undo the placeholders.
        if (
          !(error.code === 'stream_interrupted' || error.status === 0) ||
          attempt >= MAX_RECONNECTS
        ) {
          failStream(state, error)
          return
        }
      }
      if (state.finished) return
      // The stream ended without done/error: re-join it where we left off.
      if (attempt >= MAX_RECONNECTS) {
        failStream(state, new ApiError(0, 'stream_interrupted', 'The stream was interrupted.'))
        return
      }
      paint(state)
      await new Promise((resolve) => setTimeout(resolve, Math.min(250 * 2 ** attempt, 4000)))
      if (state.finished || stream.value !== state) return
      opener = (handlers) => api.streamAttach(state.conversationId, handlers)
      if (!state.lastEventId) state.resetOnDelta = true
    }
  }

  function failStream(state: StreamState, error: ApiError): void {
    state.finished = true
    if (stream.value === state) stream.value = null
    actionError.value = error
    const assistant = findMessage(state.assistantId)
    if (state.assistantId === PENDING_ASSISTANT) {
      // Nothing was created on the server: give the question back to the message box (a new
      // question only, not an edit) and put the thread back as it was.
      const question = findMessage(PENDING_USER)
      if (question && !pendingOriginal) refusedText.value = question.content
      messages.value =
        pendingOriginal ??
        messages.value.filter((m) => m.id !== PENDING_ASSISTANT && m.id !== PENDING_USER)
      pendingOriginal = null
      // Another tab is answering here: show that answer instead.
      if (error.code === 'generation_in_progress') {
        void reload().then(() => {
          actionError.value = error
        })
      }
    } else if (assistant) {
      replaceMessage(assistant.id, { ...assistant, status: 'error', error: error.message })
    }
  }

  /** The thread before an optimistic edit/regenerate, to put back if the server refuses. */
  let pendingOriginal: Message[] | null = null

  function newStreamState(conversationId: string, assistantId: string): StreamState {
    return {
      conversationId,
      assistantId,
      lastEventId: null,
      pending: '',
      resetOnDelta: false,
      finished: false,
      controller: new AbortController(),
    }
  }

  /** Joins the generation in progress (after a reload, or a second tab). */
  async function attach(assistantId: string): Promise<void> {
    const id = conversation.value?.id
    if (!id || stream.value) return
    const state = newStreamState(id, assistantId)
    state.resetOnDelta = true
    await run(state, (handlers) => api.streamAttach(id, handlers))
  }

  /**
   * Sends a question. Without an open conversation, one is created first; the caller reads
   * `conversationId` afterwards to put it in the URL. Answers false when refused.
   */
  async function send(content: string, collectorItemIds: string[] = []): Promise<boolean> {
    const text = content.trim()
    if (!text || stream.value) return false
    actionError.value = null
    refusedText.value = null
    const settings = useSettingsStore()
    let id = conversation.value?.id
    if (!id) {
      try {
        const created = await api.createConversation({
          ...(modelId.value ? { model_id: modelId.value } : {}),
          ...(settings.systemPrompt.trim() ? { system_prompt: settings.systemPrompt.trim() } : {}),
        })
        openGeneration++
        conversation.value = {
          ...created,
          system_prompt: settings.systemPrompt || null,
          current_message_id: null,
          messages: [],
        }
        messages.value = []
        useConversationsStore().upsert(created)
        id = created.id
      } catch (e) {
        actionError.value = toApiErrorValue(e)
        return false
      }
    }
    pendingOriginal = null
    const parent = messages.value[messages.value.length - 1]
    messages.value.push(
      { ...placeholder(PENDING_USER, 'user', text), parent_id: parent?.id ?? null },
      placeholder(PENDING_ASSISTANT, 'assistant'),
    )
    const conversationId = id
    const state = newStreamState(conversationId, PENDING_ASSISTANT)
    void run(state, (handlers) =>
      api.streamSend(
        conversationId,
        {
          content: text,
          ...(modelId.value ? { model_id: modelId.value } : {}),
          ...(collectorItemIds.length ? { collector_item_ids: collectorItemIds } : {}),
        },
        handlers,
      ),
    )
    return true
  }

  /** Edits the last question and answers it again; the old pair stays as a version. */
  async function editLast(content: string): Promise<boolean> {
    const text = content.trim()
    const id = conversation.value?.id
    const question = lastUser.value
    if (!text || !id || !question || stream.value) return false
    actionError.value = null
    pendingOriginal = [...messages.value]
    const index = messages.value.findIndex((m) => m.id === question.id)
    messages.value = [
      ...messages.value.slice(0, index),
      {
        ...question,
        id: PENDING_USER,
        content: text,
        sibling_ids: [...question.sibling_ids, PENDING_USER],
      },
      placeholder(PENDING_ASSISTANT, 'assistant'),
    ]
    const state = newStreamState(id, PENDING_ASSISTANT)
    void run(state, (handlers) =>
      api.streamEditLast(
        id,
        { content: text, ...(modelId.value ? { model_id: modelId.value } : {}) },
        handlers,
      ),
    )
    return true
  }

  /** A new answer to the last question; the old answer stays as a version. */
  async function regenerate(): Promise<boolean> {
    const id = conversation.value?.id
    const answer = lastAssistant.value
    if (!id || !answer || stream.value) return false
    actionError.value = null
    pendingOriginal = [...messages.value]
    replaceMessage(answer.id, {
      ...placeholder(PENDING_ASSISTANT, 'assistant'),
      parent_id: answer.parent_id,
      sibling_ids: [...answer.sibling_ids, PENDING_ASSISTANT],
    })
    const state = newStreamState(id, PENDING_ASSISTANT)
    void run(state, (handlers) =>
      api.streamRegenerate(id, modelId.value ? { model_id: modelId.value } : {}, handlers),
    )
    return true
  }

  /** Stops the answer: the server keeps the partial text with status `stopped`. */
  async function stop(): Promise<void> {
    const state = stream.value
    if (!state) return
    paint(state)
    try {
      const answer = await api.stopGeneration(state.conversationId)
      const stopped = answer?.message
      if (stopped && typeof stopped === 'object' && typeof stopped.id === 'string') {
        replaceMessage(state.assistantId, stopped)
        finish(state)
        return
      }
    } catch (e) {
      const error = toApiErrorValue(e)
      // 409/404: nothing was running any more; the stream's own done/error settles it.
      if (error.status !== 409 && error.status !== 404) actionError.value = error
    }
    // The stream usually ends with `done` (status stopped) at once; don't wait forever.
    setTimeout(() => {
      if (state.finished) return
      paint(state)
      const message = findMessage(state.assistantId)
      if (message) replaceMessage(message.id, { ...message, status: 'stopped' })
      finish(state)
    }, 1500)
  }

  /** Shows another version of a message ("2 / 3"): the thread follows that branch. */
  async function switchVersion(message: Message, step: -1 | 1): Promise<void> {
    const id = conversation.value?.id
    if (!id || stream.value) return
    const index = message.sibling_ids.indexOf(message.id)
    const target = message.sibling_ids[index + step]
    if (!target) return
    try {
      await api.updateConversation(id, { current_message_id: target })
      await open(id, { force: true })
    } catch (e) {
      actionError.value = toApiErrorValue(e)
    }
  }

  async function rate(message: Message, rating: 'up' | 'down'): Promise<void> {
    const id = conversation.value?.id
    if (!id) return
    const before = message.feedback ?? null
    replaceMessage(message.id, { ...message, feedback: { rating, reasons: [] } })
    try {
      const feedback = await api.sendFeedback(id, message.id, rating)
      const current = findMessage(message.id)
      if (current)
        replaceMessage(current.id, { ...current, feedback: feedback ?? { rating, reasons: [] } })
    } catch (e) {
      const current = findMessage(message.id)
      if (current) replaceMessage(current.id, { ...current, feedback: before })
      actionError.value = toApiErrorValue(e)
    }
  }

  /** Changes the model of the open conversation (and of the next question). */
  async function setModel(id: string): Promise<void> {
    modelId.value = id
    const open = conversation.value
    if (open && open.model_id !== id) {
      conversation.value = { ...open, model_id: id }
      try {
        await api.updateConversation(open.id, { model_id: id })
      } catch {
        // The model is also sent with each question; the stored default can wait.
      }
    }
  }

  /** Keeps the header in step with sidebar renames. */
  function setTitle(id: string, title: string): void {
    if (conversation.value?.id === id) conversation.value = { ...conversation.value, title }
  }

  /** The open conversation was deleted (or archived away). */
  function forget(id: string): void {
    if (conversation.value?.id === id) startNew()
  }

  function reset(): void {
    startNew()
    modelId.value = null
  }

  return {
    conversation,
    messages,
    visibleMessages,
    loading,
    loadError,
    actionError,
    refusedText,
    modelId,
    streaming,
    conversationId,
    lastUser,
    lastAssistant,
    open,
    reload,
    startNew,
    send,
    editLast,
    regenerate,
    stop,
    switchVersion,
    rate,
    setModel,
    setTitle,
    forget,
    detach,
    reset,
  }
})
