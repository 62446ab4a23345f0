import { defineStore } from 'pinia'
import { computed, ref, watch } from 'vue'

import * as conversationsApi from '@/api/conversations'
import { deleteConversationOnExit } from '@/api/organize'
import { useChatStore } from '@/stores/chat'
import { useSettingsStore } from '@/stores/settings'

/**
 * Temporary chats (issue 21): the new-chat screen's switch, and the temporary conversations
 * made in this tab. One is deleted as soon as the user leaves it (a new chat, another
 * conversation) and, with a `keepalive` request, when the tab goes away (`pagehide`); the
 * server deletes any left over 24 h after it was created.
 */
export const useTemporaryStore = defineStore('temporary', () => {
  const settings = useSettingsStore()
  const chat = useChatStore()
  /** The switch on the new-chat screen: the next new chat is temporary. */
  const wanted = ref(false)
  /** A group of the user makes every chat temporary: the switch is on and locked. */
  const forced = computed(() => settings.temporaryForced)
  const on = computed(() => forced.value || wanted.value)
  /** Temporary conversations made in this tab and not deleted yet. */
  const ids = ref<string[]>([])

  /** The open conversation is a temporary chat. */
  const active = computed(() => {
    const id = chat.conversationId
    return !!id && (chat.conversation?.temporary === true || ids.value.includes(id))
  })

  function track(id: string): void {
    if (!ids.value.includes(id)) ids.value = [...ids.value, id]
  }

  /** Deletes a temporary chat now (the user left it). */
  async function discard(id: string): Promise<void> {
    ids.value = ids.value.filter((known) => known !== id)
    try {
      await conversationsApi.deleteConversation(id)
    } catch {
      // gone already, or the network is down: the server's sweep deletes it within 24 h
    }
  }

  // Leaving a temporary chat (a new chat, another conversation) deletes it.
  watch(
    () => chat.conversationId,
    (next, previous) => {
      if (previous && previous !== next && ids.value.includes(previous)) void discard(previous)
    },
  )

  /** Deletes every temporary chat of this tab now (before signing out: the session is needed). */
  async function discardAll(): Promise<void> {
    await Promise.all([...ids.value].map(discard))
  }

  function onPageHide(): void {
    for (const id of ids.value) deleteConversationOnExit(id)
    ids.value = []
  }
  if (typeof window !== 'undefined') window.addEventListener('pagehide', onPageHide)

  function reset(): void {
    wanted.value = false
    ids.value = []
  }

  return { wanted, forced, on, ids, active, track, discard, discardAll, onPageHide, reset }
})
