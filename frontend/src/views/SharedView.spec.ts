import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import type { SharedConversation } from '@/api/types'

vi.mock('@/api/shares', () => ({
  getShare: vi.fn(),
  cloneShare: vi.fn(),
}))
vi.mock('@/api/http', async (original) => ({
  ...(await original<typeof import('@/api/http')>()),
  // No session: the refresh cookie is refused.
  refreshSession: vi.fn(async () => {
    throw new Error('no session')
  }),
}))

const sharesApi = await import('@/api/shares')
const { ApiError } = await import('@/api/http')
const { byTestId, mountView, waitFor } = await import('@/testing/mount')
const { default: SharedView } = await import('./SharedView.vue')
const { RouterView } = await import('vue-router')
const { defineComponent, h } = await import('vue')

const Root = defineComponent({ render: () => h(RouterView) })

const snapshot: SharedConversation = {
  id: 'sh1',
  url: '/s/sh1',
  title: '부산 여행',
  created_at: '2024-01-01T00:00:00Z',
  expires_at: null,
  messages: [
    {
      id: 'u1',
      idx: 0,
      role: 'user',
      content: '사흘 일정 짜 줘',
      model_id: null,
      status: 'complete',
      parent_id: null,
      sibling_ids: ['u1'],
      created_at: '2024-01-01T00:00:00Z',
      updated_at: '2024-01-01T00:00:00Z',
    },
    {
      id: 'a1',
      idx: 1,
      role: 'assistant',
      content: '**첫째 날**: 해운대',
      model_id: 'm1',
      status: 'complete',
      parent_id: 'u1',
      sibling_ids: ['a1'],
      created_at: '2024-01-01T00:00:00Z',
      updated_at: '2024-01-01T00:00:00Z',
    },
  ],
}

describe('shared conversation page', () => {
  let unmount = () => undefined as void
  beforeEach(() => vi.clearAllMocks())
  afterEach(() => unmount())

  it('shows the snapshot signed out, and "continue" goes to sign-in and back', async () => {
    vi.mocked(sharesApi.getShare).mockResolvedValue(snapshot)
    const view = await mountView(Root, '/s/sh1')
    unmount = view.unmount
    expect(SharedView).toBeTruthy()
    expect(sharesApi.getShare).toHaveBeenCalledWith('sh1')
    expect(byTestId(view.el, 'shared-title')?.textContent).toContain('부산 여행')
    const texts = [...view.el.querySelectorAll('[data-testid="message-content"]')].map((n) =>
      n.textContent?.trim(),
    )
    expect(texts[0]).toBe('사흘 일정 짜 줘')
    expect(view.el.querySelector('strong')?.textContent).toBe('첫째 날')
    const button = byTestId(view.el, 'continue-conversation')!
    expect(button.textContent).toContain('Sign in to continue')
    button.click()
    await waitFor(() => view.router.currentRoute.value.name === 'login')
    expect(view.router.currentRoute.value.name).toBe('login')
    expect(view.router.currentRoute.value.query.redirect).toBe('/s/sh1?continue=1')
    expect(sharesApi.cloneShare).not.toHaveBeenCalled()
  })

  it('a deleted or expired link says so', async () => {
    vi.mocked(sharesApi.getShare).mockRejectedValue(new ApiError(404, 'not_found', 'not found'))
    const view = await mountView(Root, '/s/gone')
    unmount = view.unmount
    expect(byTestId(view.el, 'share-missing')?.textContent).toContain('This link does not exist')
  })
})
