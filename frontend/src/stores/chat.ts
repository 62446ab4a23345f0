import { defineStore } from 'pinia'
import { computed, ref, shallowRef } from 'vue'

import * as api from '@/api/conversations'
import { ApiError, toApiErrorValue } from '@/api/http'
import type { SseEvent } from '@/api/sse'
import type { ConversationDetail, Message, StoredFile } from '@/api/types'
import { i18n } from '@/i18n'
import { playChime, shouldNotify, showNotification } from '@/lib/notify'
import { useConversationsStore } from '@/stores/conversations'
import { useModelsStore } from '@/stores/models'
import { useSettingsStore } from '@/stores/settings'
import { useTemporaryStore } from '@/stores/temporary'

/** Ids of the messages shown before the server has answered with the real ones. */
export const PENDING_USER = 'pending-user'
export const PENDING_ASSISTANT = 'pending-assistant'

/**
 * How many re-joins in a row (with `Last-Event-ID`) may bring nothing before the thread is
 * read again from the server instead: with the delays below, about four seconds.
 */
const MAX_REJOINS = 4

/** The wait before a re-join: 250 ms, then doubling, at most 2 s. */
const rejoinDelay = (misses: number) => Math.min(250 * 2 ** misses, 2000)

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

const isAbort = (e: unknown) => e instanceof DOMException && e.name === 'AbortError'

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

type StreamKind = 'send' | 'edit' | 'regenerate' | 'attach'

/** What a running stream is about: which conversation, and which answer it fills. */
interface StreamState {
  kind: StreamKind
  conversationId: string
  assistantId: string
  lastEventId: string | null
  /** Text received but not painted yet (painted once per animation frame). */
  pending: string
  /** The next delta replaces the content instead of extending it (re-joining from the start). */
  resetOnDelta: boolean
  finished: boolean
  controller: AbortController
  /**
   * The server has the question: it answered the request (any event, or a stream that broke
   * after it began). Until then a failure means the question may be sent again.
   */
  accepted: boolean
  /** Events received so far (a re-join that brings some is progress). */
  events: number
  /** The text asked (send, edit): given back when it did not reach the server. */
  text: string
  /** The question rewritten (edit): its editor opens again when the edit fails. */
  editedId: string | null
  /** The thread's last question before a send, to recognise the question on a retry. */
  knownLastUserId: string | null
  /** This re-join follows a fresh read of the thread: if it fails too, stop trying. */
  final: boolean
}

/**
 * A question answered by several models side by side (issue 21): the answers in the order
 * the models were picked (the first is the one the thread shows until another is kept).
 */
export interface SideBySide {
  conversationId: string
  answers: Message[]
}

/** Most models one question may be asked of at once (the server's limit). */
export const MAX_COMPARED = 3

/** Text given back to a message box: a question that did not reach the server. */
export interface ReturnedText {
  /** The conversation it was asked in (null: a new chat that could not be created). */
  conversationId: string | null
  text: string
}

/** A send or a regeneration that did not reach the server: what "Retry" repeats. */
export interface FailedAction {
  kind: 'send' | 'regenerate'
  conversationId: string | null
  text: string
  knownLastUserId: string | null
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
  /**
   * A question that did not reach the server or that it refused (plan limit, network…): the
   * message box takes it back. A new object each time, so the same text twice is seen twice.
   */
  const returnedDraft = shallowRef<ReturnedText | null>(null)
  /** An edit that did not go through: that question's editor opens again with the text. */
  const returnedEdit = shallowRef<{ messageId: string; text: string } | null>(null)
  /** The last send/regenerate that failed before reaching the server ("Retry" repeats it). */
  const failed = shallowRef<FailedAction | null>(null)
  /** An answer whose stream could not be re-joined nor read again: "interrupted". */
  const interruptedId = ref<string | null>(null)
  const stream = shallowRef<StreamState | null>(null)
  /** The other models the next question is also asked of ("Compare"), besides `modelId`. */
  const compareModelIds = ref<string[]>([])
  /** The side-by-side answers on screen, until one is kept (or another turn starts). */
  const sideBySide = ref<SideBySide | null>(null)
  let openGeneration = 0
  /** The conversation last asked for by `open` (to try again when the network is back). */
  let openingId: string | null = null

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

  /** Changes one side-by-side answer; false when it is not one of them. */
  function updateSide(id: string, change: (m: Message) => Message): boolean {
    const side = sideBySide.value
    const index = side ? side.answers.findIndex((m) => m.id === id) : -1
    if (!side || index < 0) return false
    const answers = [...side.answers]
    answers[index] = change(answers[index] as Message)
    sideBySide.value = { ...side, answers }
    return true
  }

  /** Whether every side-by-side answer has ended (done, error or stopped). */
  function sideEnded(): boolean {
    return (sideBySide.value?.answers ?? []).every((m) => m.status !== 'streaming')
  }

  /** The models the next question goes to: `modelId` then the compared ones, distinct. */
  const askedModelIds = computed(() => {
    const first = modelId.value
    if (!first) return []
    return [first, ...compareModelIds.value.filter((id) => id && id !== first)]
      .filter((id, i, all) => all.indexOf(id) === i)
      .slice(0, MAX_COMPARED)
  })

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

  /** What belongs to the conversation on screen only: errors, retry, the interrupted mark. */
  function clearTransient(): void {
    sideBySide.value = null
    loadError.value = null
    actionError.value = null
    failed.value = null
    interruptedId.value = null
    returnedEdit.value = null
    pendingOriginal = null
  }

  /** An empty "new chat". */
  function startNew(): void {
    openGeneration++
    openingId = null
    detach()
    conversation.value = null
    messages.value = []
    clearTransient()
    loading.value = false
    pickModel(null)
  }

  /** Opens a conversation; re-joins its answer if one is still being generated. */
  async function open(id: string, { force = false } = {}): Promise<void> {
    if (!force && conversation.value?.id === id && !loadError.value) return
    const mine = ++openGeneration
    openingId = id
    detach()
    loading.value = true
    clearTransient()
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
    state.accepted = true
    state.events++
    let data: unknown
    try {
      data = event.data ? JSON.parse(event.data) : {}
    } catch {
      return // not JSON: nothing we understand
    }
    switch (event.event) {
      case 'message': {
        const { user_message, assistant_message, assistant_messages } = data as {
          user_message?: Message
          assistant_message?: Message
          assistant_messages?: Message[]
        }
        if (Array.isArray(assistant_messages) && assistant_messages.length > 1) {
          sideBySide.value = { conversationId: state.conversationId, answers: assistant_messages }
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
        const { content, message_id } = data as { content?: string; message_id?: string }
        if (event.id) state.lastEventId = event.id
        if (typeof content === 'string' && message_id && sideBySide.value) {
          // A re-join from the start replays the `message` event first: the columns start empty.
          updateSide(message_id, (m) => ({ ...m, content: m.content + content }))
          // The thread shows the first answer; the others live in their columns only.
          if (message_id !== state.assistantId) break
        }
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
        if (final && typeof final.id === 'string' && updateSide(final.id, () => final)) {
          if (final.id === state.assistantId) replaceMessage(state.assistantId, final)
          // One answer ended: the stream goes on until all have.
          if (!sideEnded()) break
          finish(state)
          announce(findMessage(state.assistantId)?.content ?? '')
          break
        }
        if (final && typeof final.id === 'string') replaceMessage(state.assistantId, final)
        finish(state)
        announce(findMessage(state.assistantId)?.content ?? '')
        break
      }
      case 'error': {
        const { error, code, message_id } = data as {
          error?: string
          code?: string
          message_id?: string
        }
        if (message_id && sideBySide.value) {
          updateSide(message_id, (m) => ({
            ...m,
            status: 'error',
            error: error ?? code ?? 'error',
          }))
          if (message_id !== state.assistantId && !sideEnded()) break
          if (message_id !== state.assistantId) {
            finish(state)
            break
          }
        }
        paint(state)
        const message = findMessage(state.assistantId)
        if (message) {
          replaceMessage(message.id, {
            ...message,
            status: 'error',
            error: error ?? code ?? 'error',
          })
        }
        if (sideBySide.value && !sideEnded()) break
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
   * Runs one stream (send / edit / regenerate / attach) to its end. A stream that breaks after
   * the server took the question is re-joined with `Last-Event-ID`; when re-joins bring
   * nothing several times in a row (offline), the thread is read again instead (`settle`), so
   * an answer never spins for ever. A request that never reached the server, or that it
   * refused, puts everything back as it was (`failStart`).
   */
  async function run(
    state: StreamState,
    start: (handlers: api.StreamHandlers & { lastEventId?: string | null }) => Promise<void>,
  ): Promise<void> {
    stream.value = state
    let opener = start
    let misses = 0
    for (;;) {
      const seen = state.events
      let error: ApiError | null = null
      try {
        await opener({
          onEvent: (event) => handleEvent(state, event),
          signal: state.controller.signal,
          lastEventId: state.lastEventId,
        })
      } catch (e) {
        if (state.finished || isAbort(e)) return
        error = toApiErrorValue(e)
      }
      if (state.finished || stream.value !== state) return
      if (!state.accepted) {
        // No answer at all (network), or a refusal (409, 422, 429…): nothing was asked.
        const answered = error && error.status >= 200 && error.status < 300
        if (error && error.code !== 'stream_interrupted' && !answered) {
          failStart(state, error)
          return
        }
        state.accepted = true
      }
      // A re-join refused or with nothing to join (204): read what the server saved.
      if (error && error.status !== 0) {
        void settle(state)
        return
      }
      misses = state.events > seen ? 0 : misses + 1
      if (misses >= MAX_REJOINS) {
        void settle(state)
        return
      }
      paint(state)
      await sleep(rejoinDelay(misses))
      if (state.finished || stream.value !== state) return
      opener = (handlers) => api.streamAttach(state.conversationId, handlers)
      if (!state.lastEventId) state.resetOnDelta = true
    }
  }

  /** Ends `state` (if still running) without touching the thread. */
  function end(state: StreamState): void {
    state.finished = true
    if (stream.value === state) stream.value = null
    state.controller.abort()
  }

  /**
   * The stream could not be re-joined: read the conversation as the server saved it and show
   * that (the saved answer, or one still being written: joined once more). When even that
   * fails, the answer is marked interrupted (reload / regenerate), never left spinning.
   */
  async function settle(state: StreamState): Promise<void> {
    paint(state)
    end(state)
    let detail: ConversationDetail
    try {
      detail = await api.getConversation(state.conversationId)
    } catch {
      markInterrupted(state)
      return
    }
    if (conversation.value?.id !== state.conversationId || stream.value) return
    conversation.value = detail
    messages.value = detail.messages
    pendingOriginal = null
    const last = lastAssistant.value
    if (last?.status === 'streaming') {
      if (state.final) markInterrupted({ ...state, assistantId: last.id })
      else void attach(last.id, true)
    } else {
      afterAnswer(state.conversationId)
    }
  }

  function markInterrupted(state: StreamState): void {
    if (conversation.value?.id !== state.conversationId) return
    const message = findMessage(state.assistantId)
    if (!message) return
    replaceMessage(message.id, { ...message, status: 'error', error: null })
    interruptedId.value = message.id
    pendingOriginal = null
  }

  /** Nothing was asked (no answer from the server, or a refusal): undo, give the text back. */
  function failStart(state: StreamState, error: ApiError): void {
    end(state)
    actionError.value = error
    messages.value =
      pendingOriginal ??
      messages.value.filter((m) => m.id !== PENDING_ASSISTANT && m.id !== PENDING_USER)
    pendingOriginal = null
    const unreached = error.status === 0
    if (state.kind === 'send') {
      returnedDraft.value = { conversationId: state.conversationId, text: state.text }
      if (unreached) {
        failed.value = {
          kind: 'send',
          conversationId: state.conversationId,
          text: state.text,
          knownLastUserId: state.knownLastUserId,
        }
      }
    } else if (state.kind === 'edit' && state.editedId) {
      returnedEdit.value = { messageId: state.editedId, text: state.text }
    } else if (state.kind === 'regenerate' && unreached) {
      failed.value = {
        kind: 'regenerate',
        conversationId: state.conversationId,
        text: '',
        knownLastUserId: null,
      }
    }
    // Another tab is answering here: show that answer instead.
    if (error.code === 'generation_in_progress') {
      void reload().then(() => {
        actionError.value = error
      })
    }
  }

  /** The thread before an optimistic send/edit/regenerate, to put back if it fails. */
  let pendingOriginal: Message[] | null = null

  function newStreamState(
    kind: StreamKind,
    conversationId: string,
    assistantId: string,
    over: Partial<StreamState> = {},
  ): StreamState {
    return {
      kind,
      conversationId,
      assistantId,
      lastEventId: null,
      pending: '',
      resetOnDelta: false,
      finished: false,
      controller: new AbortController(),
      accepted: kind === 'attach',
      events: 0,
      text: '',
      editedId: null,
      knownLastUserId: null,
      final: false,
      ...over,
    }
  }

  /** Joins the generation in progress (after a reload, or a second tab). */
  async function attach(assistantId: string, final = false): Promise<void> {
    const id = conversation.value?.id
    if (!id || stream.value) return
    const state = newStreamState('attach', id, assistantId, { resetOnDelta: true, final })
    await run(state, (handlers) => api.streamAttach(id, handlers))
  }

  /**
   * Before sending again a question that failed without an answer: did it reach the server
   * after all (the answer was lost, not the request)? Then show it instead of asking twice.
   * Answers true when it is there, false when it is not; throws when the server cannot tell.
   */
  async function alreadyAsked(previous: FailedAction, text: string): Promise<boolean> {
    const id = previous.conversationId
    if (!id || previous.kind !== 'send' || previous.text.trim() !== text) return false
    const detail = await api.getConversation(id)
    const last = [...detail.messages].reverse().find((m) => m.role === 'user')
    if (!last || last.id === previous.knownLastUserId || last.content.trim() !== text) return false
    if (conversation.value?.id === id) {
      conversation.value = detail
      messages.value = detail.messages
      const answer = lastAssistant.value
      if (answer?.status === 'streaming') void attach(answer.id)
    }
    return true
  }

  /**
   * Sends a question, with collector items and uploaded files (`file_ids`, in this order).
   * Without an open conversation, one is created first; the caller reads `conversationId`
   * afterwards to put it in the URL. Answers false when refused. A question may be files only.
   */
  async function send(
    content: string,
    collectorItemIds: string[] = [],
    files: StoredFile[] = [],
  ): Promise<boolean> {
    if (sending) return false // a second Enter while the first is still on its way
    sending = true
    try {
      return await ask(content, collectorItemIds, files)
    } finally {
      sending = false
    }
  }
  let sending = false

  async function ask(
    content: string,
    collectorItemIds: string[],
    files: StoredFile[],
  ): Promise<boolean> {
    const text = content.trim()
    if ((!text && !files.length) || stream.value) return false
    actionError.value = null
    interruptedId.value = null
    const previous = failed.value
    failed.value = null
    if (previous && previous.conversationId === (conversation.value?.id ?? null)) {
      try {
        if (await alreadyAsked(previous, text)) return true
      } catch (e) {
        actionError.value = toApiErrorValue(e)
        failed.value = previous
        return false
      }
    }
    const settings = useSettingsStore()
    let id = conversation.value?.id
    if (!id) {
      try {
        const temporary = useTemporaryStore()
        const created = await api.createConversation({
          ...(modelId.value ? { model_id: modelId.value } : {}),
          ...(settings.systemPrompt.trim() ? { system_prompt: settings.systemPrompt.trim() } : {}),
          ...(temporary.on ? { temporary: true } : {}),
        })
        if (created.temporary || temporary.on) temporary.track(created.id)
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
        const error = toApiErrorValue(e)
        actionError.value = error
        if (error.status === 0) {
          failed.value = { kind: 'send', conversationId: null, text, knownLastUserId: null }
        }
        return false
      }
    }
    pendingOriginal = null
    const knownLastUserId = lastUser.value?.id ?? null
    const parent = messages.value[messages.value.length - 1]
    messages.value.push(
      { ...placeholder(PENDING_USER, 'user', text), parent_id: parent?.id ?? null, files },
      placeholder(PENDING_ASSISTANT, 'assistant'),
    )
    const conversationId = id
    const models = askedModelIds.value
    sideBySide.value = null
    const state = newStreamState('send', conversationId, PENDING_ASSISTANT, {
      text,
      knownLastUserId,
    })
    void run(state, (handlers) =>
      api.streamSend(
        conversationId,
        {
          content: text,
          ...(models.length > 1
            ? { model_ids: models }
            : modelId.value
              ? { model_id: modelId.value }
              : {}),
          ...(collectorItemIds.length ? { collector_item_ids: collectorItemIds } : {}),
          ...(files.length ? { file_ids: files.map((file) => file.id) } : {}),
        },
        handlers,
      ),
    )
    return true
  }

  /**
   * Rewrites a question (any of them, not only the last) and answers it again: a new branch
   * from there, the old one stays as a version ("1 / 2"). The last question goes through
   * `PATCH …/messages/last`, an earlier one through `PATCH …/messages/{id}`.
   */
  async function edit(question: Message, content: string): Promise<boolean> {
    const text = content.trim()
    const id = conversation.value?.id
    const index = messages.value.findIndex((m) => m.id === question.id)
    if (!text || !id || index < 0 || question.role !== 'user' || stream.value) return false
    const isLast = lastUser.value?.id === question.id
    actionError.value = null
    failed.value = null
    interruptedId.value = null
    returnedEdit.value = null
    pendingOriginal = [...messages.value]
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
    const state = newStreamState('edit', id, PENDING_ASSISTANT, { text, editedId: question.id })
    const body = { content: text, ...(modelId.value ? { model_id: modelId.value } : {}) }
    void run(state, (handlers) =>
      isLast
        ? api.streamEditLast(id, body, handlers)
        : api.streamEditMessage(id, question.id, body, handlers),
    )
    return true
  }

  /** Edits the last question (see `edit`). */
  async function editLast(content: string): Promise<boolean> {
    const question = lastUser.value
    return question ? edit(question, content) : false
  }

  /** A new answer to the last question; the old answer stays as a version. */
  async function regenerate(): Promise<boolean> {
    const id = conversation.value?.id
    const answer = lastAssistant.value
    if (!id || !answer || stream.value) return false
    actionError.value = null
    failed.value = null
    interruptedId.value = null
    pendingOriginal = [...messages.value]
    replaceMessage(answer.id, {
      ...placeholder(PENDING_ASSISTANT, 'assistant'),
      parent_id: answer.parent_id,
      sibling_ids: [...answer.sibling_ids, PENDING_ASSISTANT],
    })
    const state = newStreamState('regenerate', id, PENDING_ASSISTANT)
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
        // Side by side, every answer stopped with it.
        for (const m of sideBySide.value?.answers ?? []) {
          if (m.status === 'streaming') updateSide(m.id, (a) => ({ ...a, status: 'stopped' }))
        }
        updateSide(stopped.id, () => stopped)
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

  /**
   * Keeps one of the side-by-side answers: the thread continues from it (the existing branch
   * switch), the others stay as its versions.
   */
  async function keepAnswer(answerId: string): Promise<boolean> {
    const id = conversation.value?.id
    if (!id || stream.value || sideBySide.value?.conversationId !== id) return false
    try {
      await api.updateConversation(id, { current_message_id: answerId })
      sideBySide.value = null
      await open(id, { force: true })
      return true
    } catch (e) {
      actionError.value = toApiErrorValue(e)
      return false
    }
  }

  /** Adds a model to compare (the next one not picked yet); false when there is none. */
  function addCompareModel(): boolean {
    const models = useModelsStore()
    if (askedModelIds.value.length >= MAX_COMPARED || !modelId.value) return false
    const taken = new Set(askedModelIds.value)
    const next = models.available.find((m) => !taken.has(m.id))
    if (!next) return false
    compareModelIds.value = [...compareModelIds.value.filter((id) => taken.has(id)), next.id]
    return true
  }

  /** Sets the compared model at `index` (0: the second model); the same model twice is refused. */
  function setCompareModel(index: number, id: string): void {
    const others = compareModelIds.value.filter((_, i) => i !== index)
    if (id === modelId.value || others.includes(id)) return
    const next = [...compareModelIds.value]
    next[index] = id
    compareModelIds.value = next
  }

  function removeCompareModel(index: number): void {
    compareModelIds.value = compareModelIds.value.filter((_, i) => i !== index)
  }

  /**
   * Rates an answer; a thumbs down may say why (`reasons`, `comment`). Shown at once, put
   * back if the server refuses. Answers whether it was saved.
   */
  async function rate(
    message: Message,
    rating: 'up' | 'down',
    details: { reasons?: string[]; comment?: string } = {},
  ): Promise<boolean> {
    const id = conversation.value?.id
    if (!id) return false
    const before = message.feedback ?? null
    const reasons = rating === 'down' ? (details.reasons ?? []) : []
    const comment = details.comment?.trim() || null
    const shown = { rating, reasons, comment }
    const current = () => findMessage(message.id)
    replaceMessage(message.id, { ...(current() ?? message), feedback: shown })
    try {
      const saved = await api.sendFeedback(id, message.id, rating, {
        reasons,
        comment: comment ?? '',
      })
      const now = current()
      if (now) {
        replaceMessage(now.id, {
          ...now,
          feedback: {
            rating,
            reasons: saved?.reasons ?? reasons,
            comment: saved?.comment ?? comment,
          },
        })
      }
      return true
    } catch (e) {
      const now = current()
      if (now) replaceMessage(now.id, { ...now, feedback: before })
      actionError.value = toApiErrorValue(e)
      return false
    }
  }

  /**
   * The network is back (the browser says so, or a request got an answer): "cannot be
   * reached" messages are stale now; a conversation that could not be loaded, or an answer
   * left interrupted, is read again.
   */
  function networkBack(): void {
    if (actionError.value?.status === 0) actionError.value = null
    if (stream.value) return
    if (loadError.value?.status === 0 && openingId) {
      void open(openingId, { force: true })
    } else if (interruptedId.value && conversation.value && !loading.value) {
      interruptedId.value = null
      void reload()
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
    returnedDraft,
    returnedEdit,
    failed,
    interruptedId,
    modelId,
    compareModelIds,
    askedModelIds,
    sideBySide,
    streaming,
    conversationId,
    lastUser,
    lastAssistant,
    open,
    reload,
    startNew,
    send,
    edit,
    editLast,
    regenerate,
    stop,
    switchVersion,
    keepAnswer,
    addCompareModel,
    setCompareModel,
    removeCompareModel,
    rate,
    networkBack,
    setModel,
    setTitle,
    forget,
    detach,
    reset,
  }
})
