import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

vi.mock('@/api/auth', async (original) => ({
  ...(await original<typeof import('@/api/auth')>()),
  getSetup: vi.fn(),
}))
vi.mock('@/api/http', async (original) => ({
  ...(await original<typeof import('@/api/http')>()),
  // No session: the refresh cookie is refused.
  refreshSession: vi.fn(async () => {
    throw new Error('no session')
  }),
}))

const authApi = await import('@/api/auth')
const { ApiError } = await import('@/api/http')
const { byTestId, mountView, waitFor } = await import('@/testing/mount')
const { RouterView } = await import('vue-router')
const { defineComponent, h } = await import('vue')

const Root = defineComponent({ render: () => h(RouterView) })
const getSetup = vi.mocked(authApi.getSetup)

describe('the sign-in page and the first run', () => {
  let unmount = () => undefined as void
  beforeEach(() => {
    getSetup.mockReset()
  })
  afterEach(() => unmount())

  async function open(path: string) {
    const view = await mountView(Root, path)
    unmount = view.unmount
    await waitFor(() => !view.el.querySelector('.checking') && !!view.el.querySelector('h1'))
    return view
  }

  it('an empty server: "/" welcomes and leads to registering the administrator', async () => {
    getSetup.mockResolvedValue({ first_account: true, registration_mode: 'open' })
    const view = await open('/')
    expect(view.router.currentRoute.value.name).toBe('login')
    expect(byTestId(view.el, 'first-run')?.querySelector('h1')?.textContent).toBe(
      'Welcome to daehwa',
    )
    expect(byTestId(view.el, 'login-form')).toBeNull()
    expect(byTestId(view.el, 'first-run-start')?.getAttribute('href')).toMatch(/\/register$/)
  })

  it('the registration page is worded for the administrator on an empty server', async () => {
    getSetup.mockResolvedValue({ first_account: true, registration_mode: 'closed' })
    const view = await open('/register')
    await waitFor(() => !!byTestId(view.el, 'register-form')?.dataset.firstAccount)
    expect(view.el.querySelector('h1')?.textContent).toBe('Create the administrator account')
    expect(byTestId(view.el, 'register-submit')?.textContent).toContain(
      'Create administrator account',
    )
    expect(byTestId(view.el, 'to-login')).toBeNull()
  })

  it('a server with accounts: the usual sign-in, with "create an account" when open', async () => {
    getSetup.mockResolvedValue({ first_account: false, registration_mode: 'open' })
    const view = await open('/login')
    expect(byTestId(view.el, 'login-form')).not.toBeNull()
    expect(byTestId(view.el, 'to-register')).not.toBeNull()
  })

  it('registration closed: no "create an account" link, and /register says it is closed', async () => {
    getSetup.mockResolvedValue({ first_account: false, registration_mode: 'closed' })
    const view = await open('/login')
    expect(byTestId(view.el, 'login-form')).not.toBeNull()
    expect(byTestId(view.el, 'to-register')).toBeNull()
    expect(byTestId(view.el, 'registration-closed')).not.toBeNull()
    unmount()
    const register = await open('/register')
    await waitFor(() => !!byTestId(register.el, 'register-closed'))
    expect(byTestId(register.el, 'register-form')).toBeNull()
  })

  it('an older server without GET auth/setup: the usual sign-in page', async () => {
    getSetup.mockImplementation(async () => {
      throw new ApiError(404, 'not_found', 'no such API route')
    })
    const view = await open('/login')
    expect(byTestId(view.el, 'login-form')).not.toBeNull()
    expect(byTestId(view.el, 'first-run')).toBeNull()
    expect(byTestId(view.el, 'to-register')).not.toBeNull()
  })
})
