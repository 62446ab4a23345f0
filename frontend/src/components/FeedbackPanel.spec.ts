import { afterEach, describe, expect, it, vi } from 'vitest'

vi.mock('@/api/admin', () => ({
  listFeedback: vi.fn(async () => ({
    feedback: [
      {
        id: 'f1',
        user_id: 'u1',
        username: 'alice',
        conversation_id: 'c1',
        message_id: 'm1',
        rating: 'down',
        comment: '너무 길어요',
        reasons: ['incorrect', 'too_verbose', 'not_a_code'],
        created_at: '2024-01-01T00:00:00Z',
      },
      {
        id: 'f2',
        user_id: 'u2',
        username: 'bob',
        conversation_id: 'c2',
        message_id: 'm2',
        rating: 'up',
        comment: null,
        created_at: '2024-01-01T00:00:00Z',
      },
    ],
    next_cursor: null,
  })),
}))

const { i18n } = await import('@/i18n')
const { mountView, testUser, waitFor } = await import('@/testing/mount')
const { default: FeedbackPanel } = await import('./FeedbackPanel.vue')

describe('admin feedback list', () => {
  let unmount = () => undefined as void
  afterEach(() => {
    unmount()
    i18n.global.locale.value = 'en'
  })

  it('shows the reasons of a thumbs down in the UI language, and the comment', async () => {
    const view = await mountView(FeedbackPanel, '/settings', { user: testUser('admin') })
    unmount = view.unmount
    const rows = () => view.el.querySelectorAll('[data-testid="feedback-row"]')
    await waitFor(() => rows().length === 2)
    const reasons = (row: Element) =>
      [...row.querySelectorAll('[data-testid="feedback-reasons"] li')].map((li) =>
        li.textContent?.trim(),
      )
    // The order of the codes, unknown codes left out.
    expect(reasons(rows()[0]!)).toEqual(['Too long', 'Incorrect'])
    expect(rows()[0]!.querySelector('[data-testid="feedback-comment"]')?.textContent).toBe(
      '너무 길어요',
    )
    // An older server: no reasons at all.
    expect(reasons(rows()[1]!)).toEqual([])
    expect(rows()[1]!.querySelector('[data-testid="feedback-reasons"]')?.textContent).toContain('—')

    i18n.global.locale.value = 'ko'
    await waitFor(() => reasons(rows()[0]!)[0] === '너무 김')
    expect(reasons(rows()[0]!)).toEqual(['너무 김', '틀린 내용'])
  })
})
