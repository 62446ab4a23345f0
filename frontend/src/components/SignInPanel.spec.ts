// Issue 22: the admin's Sign-in tab — locked fields read-only, only the changed fields sent,
// secrets write-only, a 422 at its field, and the LDAP tests' results.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import type { SignInSettings } from '@/api/signin'

vi.mock('@/api/signin', async (original) => ({
  ...(await original<typeof import('@/api/signin')>()),
  getSignInSettings: vi.fn(),
  putSignInSettings: vi.fn(),
  testLdap: vi.fn(),
  testLdapUser: vi.fn(),
}))

const signinApi = await import('@/api/signin')
const { ApiError } = await import('@/api/http')
const { byTestId, mountView, settle, testUser, waitFor } = await import('@/testing/mount')
const { default: SignInPanel } = await import('./SignInPanel.vue')

function settings(): SignInSettings {
  return {
    ldap: {
      enabled: true,
      url: 'ldaps://dc1.corp.example:636',
      starttls: false,
      ca_file: '',
      skip_verify: false,
      bind_dn: 'CN=svc,DC=corp,DC=example',
      bind_password_set: true,
      user_base: 'OU=People,DC=corp,DC=example',
      user_filter: '(sAMAccountName={username})',
      group_base: '',
      username_attribute: 'sAMAccountName',
      display_name_attribute: 'displayName',
      email_attribute: 'mail',
      admin_groups: ['CN=admins,DC=corp,DC=example'],
      allowed_groups: [],
      timeout_secs: 10,
      locked: ['enabled', 'url'],
    },
    oidc: {
      enabled: false,
      issuer: '',
      client_id: '',
      client_secret_set: false,
      redirect_url: '',
      scopes: 'openid profile email',
      username_claim: 'preferred_username',
      groups_claim: 'groups',
      admin_groups: [],
      allowed_groups: [],
      button_label: 'SSO',
      locked: [],
      redirect_url_hint: 'https://chat.corp.example/api/v1/auth/oidc/callback',
    },
    proxy: {
      enabled: false,
      header: 'X-Remote-User',
      groups_header: '',
      admin_groups: [],
      allowed_groups: [],
      locked: [],
      trusted_proxies: [],
    },
  }
}

function setValue(el: HTMLElement | null, value: string): void {
  const input = el as HTMLInputElement
  input.value = value
  input.dispatchEvent(new Event('input'))
  input.dispatchEvent(new Event('change'))
}

function check(el: HTMLElement | null, on: boolean): void {
  const box = el as HTMLInputElement
  box.checked = on
  box.dispatchEvent(new Event('change'))
}

describe('the admin Sign-in tab', () => {
  let unmount = () => undefined as void
  beforeEach(() => {
    vi.mocked(signinApi.getSignInSettings).mockResolvedValue(settings())
    vi.mocked(signinApi.putSignInSettings).mockImplementation(async () => settings())
  })
  afterEach(() => {
    unmount()
    document.body.innerHTML = ''
    vi.clearAllMocks()
  })

  async function open() {
    const view = await mountView(SignInPanel, '/', { user: testUser('admin') })
    unmount = view.unmount
    await waitFor(() => !!byTestId(view.el, 'signin-form'))
    return view
  }

  const save = async (el: HTMLElement) => {
    ;(byTestId(el, 'signin-form') as HTMLFormElement).requestSubmit()
    await settle()
  }

  it('shows the three sections; locked fields are read-only and say why', async () => {
    const view = await open()
    for (const section of ['ldap', 'oidc', 'proxy']) {
      expect(byTestId(view.el, `signin-${section}`)).not.toBeNull()
    }
    const url = byTestId(view.el, 'signin-ldap-url') as HTMLInputElement
    expect(url.value).toBe('ldaps://dc1.corp.example:636')
    expect(url.readOnly).toBe(true)
    expect(byTestId(view.el, 'signin-field-ldap-url')?.textContent).toContain(
      "Set by the server's command line or environment",
    )
    expect((byTestId(view.el, 'signin-ldap-enabled') as HTMLInputElement).disabled).toBe(true)
    expect((byTestId(view.el, 'signin-ldap-user_base') as HTMLInputElement).readOnly).toBe(false)
    expect((byTestId(view.el, 'signin-ldap-admin_groups') as HTMLTextAreaElement).value).toBe(
      'CN=admins,DC=corp,DC=example',
    )
    expect(byTestId(view.el, 'signin-bind_password-state')?.textContent).toBe('Set')
    expect(byTestId(view.el, 'signin-client_secret-state')?.textContent).toBe('Not set')
    expect((byTestId(view.el, 'signin-redirect-url') as HTMLInputElement).value).toBe(
      'https://chat.corp.example/api/v1/auth/oidc/callback',
    )
    // No trusted proxies: proxy sign-in cannot be turned on, and the page says why.
    expect((byTestId(view.el, 'signin-proxy-enabled') as HTMLInputElement).disabled).toBe(true)
    expect(byTestId(view.el, 'signin-trusted-proxies')?.textContent).toContain('--trusted-proxies')
    expect((byTestId(view.el, 'signin-save') as HTMLButtonElement).disabled).toBe(true)
  })

  it('sends only the fields that changed; lists one per line; a secret only when typed', async () => {
    const view = await open()
    setValue(byTestId(view.el, 'signin-ldap-user_base'), '  OU=Staff,DC=corp,DC=example ')
    setValue(
      byTestId(view.el, 'signin-ldap-allowed_groups'),
      'CN=daehwa-users,DC=corp,DC=example\n\n  CN=research,DC=corp,DC=example  \n',
    )
    // Unchanged after the edit: not sent.
    setValue(byTestId(view.el, 'signin-ldap-bind_dn'), 'CN=svc,DC=corp,DC=example')
    setValue(byTestId(view.el, 'signin-oidc-issuer'), 'https://idp.corp.example/realms/corp')
    setValue(byTestId(view.el, 'signin-oidc-client_id'), 'daehwa')
    setValue(byTestId(view.el, 'signin-oidc-client_secret'), 's3cret')
    setValue(byTestId(view.el, 'signin-oidc-button_label'), 'Corp SSO')
    check(byTestId(view.el, 'signin-oidc-enabled'), true)
    await settle()
    expect((byTestId(view.el, 'signin-save') as HTMLButtonElement).disabled).toBe(false)
    await save(view.el)
    expect(signinApi.putSignInSettings).toHaveBeenCalledWith({
      ldap: {
        user_base: 'OU=Staff,DC=corp,DC=example',
        allowed_groups: ['CN=daehwa-users,DC=corp,DC=example', 'CN=research,DC=corp,DC=example'],
      },
      oidc: {
        enabled: true,
        issuer: 'https://idp.corp.example/realms/corp',
        client_id: 'daehwa',
        client_secret: 's3cret',
        button_label: 'Corp SSO',
      },
    })
    // The answer is the new state: the typed secret is gone from the page.
    expect((byTestId(view.el, 'signin-oidc-client_secret') as HTMLInputElement).value).toBe('')
  })

  it('a stored secret is kept when left empty and cleared only on purpose', async () => {
    const view = await open()
    setValue(byTestId(view.el, 'signin-ldap-timeout_secs'), '20')
    await settle()
    await save(view.el)
    expect(signinApi.putSignInSettings).toHaveBeenLastCalledWith({ ldap: { timeout_secs: 20 } })

    check(byTestId(view.el, 'signin-ldap-bind_password-clear'), true)
    await settle()
    await save(view.el)
    expect(signinApi.putSignInSettings).toHaveBeenLastCalledWith({ ldap: { bind_password: '' } })
  })

  it('a 422 shows at its field ("ldap.user_filter") and in the summary', async () => {
    vi.mocked(signinApi.putSignInSettings).mockRejectedValueOnce(
      new ApiError(422, 'validation_failed', 'invalid', {
        'ldap.user_filter': 'the filter must contain {username}',
      }),
    )
    const view = await open()
    setValue(byTestId(view.el, 'signin-ldap-user_filter'), '(uid=x)')
    await settle()
    await save(view.el)
    const fieldError = byTestId(view.el, 'signin-ldap-user_filter-error')
    expect(fieldError?.textContent).toContain('the filter must contain {username}')
    expect(byTestId(view.el, 'signin-field-ldap-user_filter')?.className).toContain('field-invalid')
    expect(byTestId(view.el, 'signin-error')?.textContent).toBeTruthy()
    expect((byTestId(view.el, 'signin-ldap-user_filter') as HTMLInputElement).value).toBe('(uid=x)')
  })

  it('Test connection sends the unsaved values and shows each step, ok or failed, with why', async () => {
    vi.mocked(signinApi.testLdap).mockResolvedValue({
      ok: false,
      server: 'active_directory',
      steps: [
        { step: 'connect', ok: true, detail: 'dc1.corp.example:636' },
        { step: 'bind', ok: false, detail: 'invalid credentials (49)' },
      ],
    })
    const view = await open()
    setValue(byTestId(view.el, 'signin-ldap-bind_password'), 'typed-not-saved')
    await settle()
    byTestId(view.el, 'ldap-test-connection')!.click()
    await settle()
    expect(signinApi.testLdap).toHaveBeenCalledWith({ bind_password: 'typed-not-saved' })
    const result = byTestId(view.el, 'ldap-test-result')!
    expect(result.dataset.ok).toBe('false')
    expect(result.textContent).toContain('The directory test failed.')
    expect(result.textContent).toContain('Active Directory')
    const steps = [...result.querySelectorAll<HTMLElement>('[data-testid="ldap-test-step"]')]
    expect(steps.map((s) => s.dataset.ok)).toEqual(['true', 'false'])
    expect(steps[0]?.textContent).toContain('Connect')
    expect(steps[1]?.textContent).toContain('Failed')
    expect(steps[1]?.textContent).toContain('invalid credentials (49)')
  })

  it('Test a user shows what the directory knows of them', async () => {
    vi.mocked(signinApi.testLdapUser).mockResolvedValue({
      found: true,
      dn: 'CN=Kim,OU=People,DC=corp,DC=example',
      username: 'kim',
      display_name: 'Kim Minji',
      email: 'kim@corp.example',
      groups: ['CN=daehwa-users,DC=corp,DC=example'],
      daehwa_groups: [{ id: 'g1', name: 'Research' }],
      admin: false,
      allowed: true,
      password_ok: false,
      detail: '',
    })
    const view = await open()
    setValue(byTestId(view.el, 'ldap-test-username'), ' kim ')
    setValue(byTestId(view.el, 'ldap-test-password'), 'pw')
    await settle()
    byTestId(view.el, 'ldap-test-user')!.click()
    await settle()
    expect(signinApi.testLdapUser).toHaveBeenCalledWith('kim', 'pw', {})
    const result = byTestId(view.el, 'ldap-user-result')!
    expect(result.dataset.found).toBe('true')
    expect(byTestId(result, 'ldap-user-dn')?.textContent).toBe(
      'CN=Kim,OU=People,DC=corp,DC=example',
    )
    expect(result.textContent).toContain('Kim Minji')
    expect(result.textContent).toContain('kim@corp.example')
    expect(result.textContent).toContain('CN=daehwa-users,DC=corp,DC=example')
    expect(byTestId(result, 'ldap-user-daehwa-groups')?.textContent?.trim()).toBe('Research')
    expect(byTestId(result, 'ldap-user-allowed')?.textContent).toBe('Yes')
    expect(byTestId(result, 'ldap-user-password')?.textContent).toBe('Wrong')
  })

  it('a user the directory does not know: "No such user" and its detail', async () => {
    vi.mocked(signinApi.testLdapUser).mockResolvedValue({
      found: false,
      groups: [],
      daehwa_groups: [],
      admin: false,
      allowed: false,
      password_ok: null,
      detail: 'no entry matched (sAMAccountName=nobody)',
    })
    const view = await open()
    setValue(byTestId(view.el, 'ldap-test-username'), 'nobody')
    await settle()
    byTestId(view.el, 'ldap-test-user')!.click()
    await settle()
    const result = byTestId(view.el, 'ldap-user-result')!
    expect(result.textContent).toContain('No such user')
    expect(result.textContent).toContain('no entry matched')
    expect(byTestId(result, 'ldap-user-dn')).toBeNull()
  })
})
