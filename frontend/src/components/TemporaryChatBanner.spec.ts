import { afterEach, describe, expect, it } from 'vitest'
import { defineComponent, h } from 'vue'

const { byTestId, mountView, settle, testUser } = await import('@/testing/mount')
const { useChatStore } = await import('@/stores/chat')
const { default: TemporaryChatBanner } = await import('./TemporaryChatBanner.vue')
const { default: ConversationActions } = await import('./ConversationActions.vue')

describe('a temporary chat in the chat view', () => {
  let unmount = () => undefined as void
  afterEach(() => unmount())

  it('in a temporary chat: the banner, and no share or export actions', async () => {
    const chatView = defineComponent({
      setup: () => () =>
        h('div', [
          h(TemporaryChatBanner),
          h(ConversationActions, { conversationId: 't1', title: '' }),
        ]),
    })
    const view = await mountView(chatView, '/', { user: testUser() })
    unmount = view.unmount
    expect(byTestId(view.el, 'temporary-banner')).toBeNull()
    expect(byTestId(view.el, 'share-open')).not.toBeNull()
    const chat = useChatStore()
    chat.conversation = {
      id: 't1',
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
      temporary: true,
    }
    await settle()
    expect(byTestId(view.el, 'temporary-banner')?.getAttribute('role')).toBe('status')
    expect(byTestId(view.el, 'temporary-banner')?.textContent).toContain('Temporary chat')
    expect(byTestId(view.el, 'share-open')).toBeNull()
  })
})
