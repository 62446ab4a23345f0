import { afterEach, describe, expect, it } from 'vitest'
import { defineComponent, h } from 'vue'

const { byTestId, mountView, settle, testUser } = await import('@/testing/mount')
const { default: FeedbackDialog } = await import('./FeedbackDialog.vue')

function harness(props: Record<string, unknown> = {}) {
  const submitted: unknown[] = []
  let closed = 0
  const Root = defineComponent({
    render: () =>
      h(FeedbackDialog, {
        ...props,
        onSubmit: (details: unknown) => submitted.push(details),
        onClose: () => closed++,
      }),
  })
  return { Root, submitted, closed: () => closed }
}

describe('thumbs-down dialog', () => {
  let unmount = () => undefined as void
  afterEach(() => unmount())

  it('offers the eight reasons as checkboxes; Submit sends the chosen ones and the comment', async () => {
    const { Root, submitted } = harness()
    const view = await mountView(Root, '/settings', { user: testUser() })
    unmount = view.unmount
    const dialog = document.querySelector('[data-testid="feedback-dialog"]') as HTMLElement
    expect(dialog.getAttribute('role')).toBe('dialog')
    const boxes = dialog.querySelectorAll<HTMLInputElement>('input[type="checkbox"]')
    expect(boxes).toHaveLength(8)
    const submit = byTestId(dialog, 'feedback-submit') as HTMLButtonElement
    expect(submit.disabled, 'nothing to send yet').toBe(true)
    // Clicked out of order: sent in the order shown.
    byTestId(dialog, 'feedback-reason-unsafe')!.querySelector('input')!.click()
    await settle()
    byTestId(dialog, 'feedback-reason-style')!.querySelector('input')!.click()
    await settle()
    const comment = byTestId(dialog, 'feedback-comment') as HTMLTextAreaElement
    comment.value = '  위험한 조언이에요  '
    comment.dispatchEvent(new Event('input'))
    await settle()
    expect(submit.disabled).toBe(false)
    submit.click()
    await settle()
    expect(submitted).toEqual([{ reasons: ['style', 'unsafe'], comment: '위험한 조언이에요' }])
  })

  it('Skip closes without sending; earlier reasons are shown checked', async () => {
    const { Root, submitted, closed } = harness({ reasons: ['refused'], comment: 'no' })
    const view = await mountView(Root, '/settings', { user: testUser() })
    unmount = view.unmount
    const dialog = document.querySelector('[data-testid="feedback-dialog"]') as HTMLElement
    const refused = byTestId(dialog, 'feedback-reason-refused')!.querySelector('input')!
    expect(refused.checked).toBe(true)
    expect((byTestId(dialog, 'feedback-comment') as HTMLTextAreaElement).value).toBe('no')
    byTestId(dialog, 'feedback-skip')!.click()
    await settle()
    expect(closed()).toBe(1)
    expect(submitted).toEqual([])
  })
})
