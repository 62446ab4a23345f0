// Issue 22: Settings → Account has no password form for a directory account (the company
// directory keeps the password), and says so; a local account keeps the form.
import { afterEach, describe, expect, it, vi } from 'vitest'

vi.mock('@/api/health', () => ({ getHealth: vi.fn(async () => ({ version: '1.0.0' })) }))
vi.mock('@/api/models', () => ({ listModels: vi.fn(async () => []) }))
vi.mock('@/api/apiKeys', () => ({ listApiKeys: vi.fn(async () => []) }))
vi.mock('@/api/shares', () => ({ listShares: vi.fn(async () => ({ shares: [] })) }))

const { byTestId, mountView, testUser, waitFor } = await import('@/testing/mount')
const { default: SettingsView } = await import('./SettingsView.vue')

describe('Settings → Account and directory sign-in', () => {
  let unmount = () => undefined as void
  afterEach(() => unmount())

  it.each(['ldap', 'oidc', 'proxy'] as const)(
    'a %s account: no password form, the directory manages it',
    async (method) => {
      const user = { ...testUser(), auth_method: method, email: 'kim@corp.example' }
      const view = await mountView(SettingsView, '/settings', { user })
      unmount = view.unmount
      await waitFor(() => !!byTestId(view.el, 'password-managed'))
      expect(byTestId(view.el, 'password-managed')?.textContent).toContain(
        'managed by your company directory',
      )
      expect(byTestId(view.el, 'password-form')).toBeNull()
      expect(byTestId(view.el, 'account-email')?.textContent?.trim()).toBe('kim@corp.example')
    },
  )

  it.each([undefined, 'local'] as const)('a %s account keeps the password form', async (method) => {
    const user = { ...testUser(), ...(method ? { auth_method: method } : {}) }
    const view = await mountView(SettingsView, '/settings', { user })
    unmount = view.unmount
    await waitFor(() => !!byTestId(view.el, 'password-form'))
    expect(byTestId(view.el, 'password-form')).not.toBeNull()
    expect(byTestId(view.el, 'password-managed')).toBeNull()
  })
})
