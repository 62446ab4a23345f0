// Issue 22 on the login page: the company account switch (LDAP), the OpenID Connect button,
// the Windows sign-in proxy (tried once on load), and `?sso_error=` in words.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

vi.mock('@/api/auth', async (original) => ({
  ...(await original<typeof import('@/api/auth')>()),
  getSetup: vi.fn(async () => ({ first_account: false, registration_mode: 'closed' })),
  login: vi.fn(),
}))
vi.mock('@/api/signin', async (original) => ({
  ...(await original<typeof import('@/api/signin')>()),
  getMethods: vi.fn(),
  ldapLogin: vi.fn(),
  proxyLogin: vi.fn(),
}))
vi.mock('@/api/http', async (original) => ({
  ...(await original<typeof import('@/api/http')>()),
  // No session: the refresh cookie is refused.
  refreshSession: vi.fn(async () => {
    throw new Error('no session')
  }),
}))

const authApi = await import('@/api/auth')
const signinApi = await import('@/api/signin')
const { ApiError } = await import('@/api/http')
const { byTestId, mountView, settle, testUser, waitFor } = await import('@/testing/mount')
const { RouterView } = await import('vue-router')
const { defineComponent, h } = await import('vue')

const Root = defineComponent({ render: () => h(RouterView) })
const getMethods = vi.mocked(signinApi.getMethods)
const ldapLogin = vi.mocked(signinApi.ldapLogin)
const proxyLogin = vi.mocked(signinApi.proxyLogin)
const localLogin = vi.mocked(authApi.login)

const signedIn = (method: 'ldap' | 'proxy' | 'local') => ({
  access_token: 'token',
  token_type: 'Bearer',
  expires_in: 900,
  user: { ...testUser(), auth_method: method },
})

function setValue(el: HTMLElement | null, value: string): void {
  const input = el as HTMLInputElement
  input.value = value
  input.dispatchEvent(new Event('input'))
}

describe('the login page with directory sign-in', () => {
  let unmount = () => undefined as void
  beforeEach(() => {
    getMethods.mockReset()
    ldapLogin.mockReset()
    proxyLogin.mockReset()
    localLogin.mockReset()
  })
  afterEach(() => unmount())

  async function open(path: string, methods: Partial<import('@/api/signin').SignInMethods>) {
    getMethods.mockResolvedValue({ ...signinApi.LOCAL_ONLY, ...methods })
    const view = await mountView(Root, path)
    unmount = view.unmount
    await waitFor(() => !!byTestId(view.el, 'login-form'))
    await settle()
    return view
  }

  async function fillAndSubmit(el: HTMLElement) {
    setValue(byTestId(el, 'login-username'), ' kim ')
    setValue(byTestId(el, 'login-password'), 'secret-1')
    await settle()
    byTestId(el, 'login-submit')!.click()
    await settle()
  }

  it('local only: no account switch, no single sign-on buttons, proxy never asked', async () => {
    const view = await open('/login', {})
    expect(byTestId(view.el, 'login-kinds')).toBeNull()
    expect(byTestId(view.el, 'login-oidc')).toBeNull()
    expect(byTestId(view.el, 'login-proxy')).toBeNull()
    expect(proxyLogin).not.toHaveBeenCalled()
  })

  it('an older server without GET auth/methods: the local form only', async () => {
    getMethods.mockRejectedValue(new ApiError(404, 'not_found', 'no such API route'))
    const view = await mountView(Root, '/login')
    unmount = view.unmount
    await waitFor(() => !!byTestId(view.el, 'login-form'))
    expect(byTestId(view.el, 'login-kinds')).toBeNull()
    expect(byTestId(view.el, 'login-other')).toBeNull()
  })

  it('LDAP: "Company account" first and chosen; it posts to auth/ldap/login, then goes in', async () => {
    ldapLogin.mockResolvedValue(signedIn('ldap'))
    const view = await open('/login?redirect=/settings', { ldap: true })
    const kinds = byTestId(view.el, 'login-kinds')!
    const radios = [...kinds.querySelectorAll('[role="radio"]')]
    expect(radios.map((r) => r.textContent?.trim())).toEqual(['Company account', 'Local account'])
    expect(radios[0]?.getAttribute('aria-checked')).toBe('true')
    expect(byTestId(view.el, 'login-form')?.dataset.kind).toBe('company')

    await fillAndSubmit(view.el)
    expect(ldapLogin).toHaveBeenCalledWith('kim', 'secret-1')
    expect(localLogin).not.toHaveBeenCalled()
    await waitFor(() => view.router.currentRoute.value.path === '/settings')
    expect(view.router.currentRoute.value.path).toBe('/settings')
  })

  it('LDAP: "Local account" posts to auth/login; the arrow keys move the switch', async () => {
    localLogin.mockResolvedValue(signedIn('local'))
    const view = await open('/login', { ldap: true })
    const kinds = byTestId(view.el, 'login-kinds')!
    kinds.dispatchEvent(new KeyboardEvent('keydown', { key: 'ArrowRight', bubbles: true }))
    await settle()
    expect(byTestId(view.el, 'login-kind-local')?.getAttribute('aria-checked')).toBe('true')
    expect(byTestId(view.el, 'login-form')?.dataset.kind).toBe('local')
    await fillAndSubmit(view.el)
    expect(localLogin).toHaveBeenCalledWith('kim', 'secret-1')
    expect(ldapLogin).not.toHaveBeenCalled()
  })

  it.each([
    [401, 'invalid_credentials', 'Wrong username or password.'],
    [403, 'not_in_allowed_group', 'not in a group that may use this service'],
    [503, 'directory_unavailable', 'company directory cannot be reached'],
    [429, 'rate_limited', 'Try again'],
  ])('LDAP refusal %i %s is said in words', async (status, code, text) => {
    ldapLogin.mockRejectedValue(new ApiError(status, code, 'English', {}, 30))
    const view = await open('/login', { ldap: true })
    await fillAndSubmit(view.el)
    expect(byTestId(view.el, 'login-error')?.textContent).toContain(text)
    expect(view.router.currentRoute.value.name).toBe('login')
  })

  it('LDAP: an account waiting for approval goes to the pending page', async () => {
    ldapLogin.mockRejectedValue(new ApiError(403, 'pending_approval', 'pending'))
    const view = await open('/login', { ldap: true })
    await fillAndSubmit(view.el)
    await waitFor(() => view.router.currentRoute.value.name === 'pending')
    expect(view.router.currentRoute.value.name).toBe('pending')
  })

  it('OpenID Connect: a "Sign in with {label}" link to the start URL, back where wanted', async () => {
    const view = await open('/login?redirect=/c/abc', { oidc: { label: 'Okta' } })
    const button = byTestId(view.el, 'login-oidc') as HTMLAnchorElement
    expect(button.tagName).toBe('A')
    expect(button.textContent?.trim()).toBe('Sign in with Okta')
    expect(button.getAttribute('href')).toBe('/api/v1/auth/oidc/start?return_to=%2Fc%2Fabc')
  })

  it('OpenID Connect: a redirect to another site is not passed on', async () => {
    const view = await open('/login?redirect=//evil.example/x', { oidc: { label: 'SSO' } })
    expect(byTestId(view.el, 'login-oidc')?.getAttribute('href')).toBe(
      '/api/v1/auth/oidc/start?return_to=%2F',
    )
  })

  it.each([
    ['state_mismatch', 'took too long or was started in another tab'],
    ['not_in_allowed_group', 'not in a group that may use this service'],
    ['directory_unavailable', 'company directory cannot be reached'],
    ['something_new', 'Single sign-on did not work'],
    ['<b>x</b>', 'Single sign-on did not work'],
  ])('?sso_error=%s is said in words', async (code, text) => {
    const view = await open(`/login?sso_error=${encodeURIComponent(code)}`, {
      oidc: { label: 'SSO' },
    })
    const message = byTestId(view.el, 'sso-error')!
    expect(message.getAttribute('role')).toBe('alert')
    expect(message.textContent).toContain(text)
    expect(message.querySelector('b')).toBeNull()
  })

  it('proxy: tried once on load, silently; a success goes in', async () => {
    proxyLogin.mockResolvedValue(signedIn('proxy'))
    getMethods.mockResolvedValue({ ...signinApi.LOCAL_ONLY, proxy: true })
    // Not open(): the login form may be gone before it is looked for.
    const view = await mountView(Root, '/login?redirect=/settings')
    unmount = view.unmount
    await waitFor(() => view.router.currentRoute.value.path === '/settings')
    expect(proxyLogin).toHaveBeenCalledTimes(1)
    expect(view.router.currentRoute.value.path).toBe('/settings')
  })

  it('proxy: a failure on load says nothing; the Windows button tries again and says why', async () => {
    proxyLogin.mockRejectedValue(new ApiError(401, 'proxy_header_missing', 'no header'))
    const view = await open('/login', { proxy: true })
    await waitFor(() => proxyLogin.mock.calls.length === 1)
    await settle()
    expect(byTestId(view.el, 'login-error')).toBeNull()
    const button = byTestId(view.el, 'login-proxy')!
    expect(button.textContent?.trim()).toBe('Sign in with your Windows account')
    button.click()
    await settle()
    expect(proxyLogin).toHaveBeenCalledTimes(2)
    expect(byTestId(view.el, 'login-error')?.textContent).toContain(
      'Your Windows account did not reach this server',
    )
  })

  it('proxy: not tried on load over a single sign-on failure', async () => {
    const view = await open('/login?sso_error=provider_error', { proxy: true, oidc: null })
    await settle()
    expect(proxyLogin).not.toHaveBeenCalled()
    expect(byTestId(view.el, 'login-proxy')).not.toBeNull()
  })

  it('a session the directory ended (refresh refused) says so', async () => {
    getMethods.mockResolvedValue({ ...signinApi.LOCAL_ONLY, ldap: true })
    const { useAuthStore } = await import('@/stores/auth')
    const view = await mountView(Root, '/login')
    unmount = view.unmount
    useAuthStore().endedBecause = 'directory_refused'
    await waitFor(() => !!view.el.querySelector('.notice'))
    expect(view.el.querySelector('.notice')?.textContent).toContain(
      'The company directory no longer accepts your account',
    )
  })

  it('every method at once: switch, SSO and Windows buttons, register link logic unchanged', async () => {
    const view = await open('/login', { ldap: true, oidc: { label: 'SSO' }, proxy: true })
    proxyLogin.mockRejectedValue(new ApiError(401, 'proxy_header_missing', 'no header'))
    expect(byTestId(view.el, 'login-kinds')).not.toBeNull()
    expect(byTestId(view.el, 'login-oidc')).not.toBeNull()
    expect(byTestId(view.el, 'login-proxy')).not.toBeNull()
    // registration_mode is closed in this file's setup.
    expect(byTestId(view.el, 'to-register')).toBeNull()
    expect(byTestId(view.el, 'registration-closed')).not.toBeNull()
  })
})
