import { afterEach, describe, expect, it } from 'vitest'
import { defineComponent, h } from 'vue'

const { byTestId, mountView, settle, testUser } = await import('@/testing/mount')
const { useSettingsStore } = await import('@/stores/settings')
const { useTemporaryStore } = await import('@/stores/temporary')
const { default: TemporaryChatToggle } = await import('./TemporaryChatToggle.vue')

const host = defineComponent({ setup: () => () => h(TemporaryChatToggle) })

describe('the temporary chat switch', () => {
  let unmount = () => undefined as void
  afterEach(() => unmount())

  it('shows the notice when switched on', async () => {
    const view = await mountView(host, '/', { user: testUser() })
    unmount = view.unmount
    const input = byTestId(view.el, 'temporary-toggle') as HTMLInputElement
    expect(input.checked).toBe(false)
    expect(input.getAttribute('role')).toBe('switch')
    expect(byTestId(view.el, 'temporary-notice')).toBeNull()
    input.click()
    await settle()
    expect(useTemporaryStore().wanted).toBe(true)
    expect(byTestId(view.el, 'temporary-notice')?.textContent).toContain('24 hours')
  })

  it('is on and locked, with the reason, when a group forces it', async () => {
    const view = await mountView(host, '/', { user: testUser() })
    unmount = view.unmount
    useSettingsStore().temporaryForced = true
    await settle()
    const input = byTestId(view.el, 'temporary-toggle') as HTMLInputElement
    expect(input.checked).toBe(true)
    expect(input.disabled).toBe(true)
    expect(byTestId(view.el, 'temporary-forced')?.textContent).toContain('administrator')
  })
})
