import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { getAccessToken, http, setAccessToken } from '@/api/http'

import { useAuthStore } from './auth'

const user = { id: 'u1', username: 'alice', display_name: 'Alice', role: 'admin', status: 'active' }

function json(status: number, body: unknown): Response {
  return new Response(body === null ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

describe('auth store', () => {
  const fetchMock = vi.fn<typeof fetch>()

  beforeEach(() => {
    setActivePinia(createPinia())
    fetchMock.mockReset()
    vi.stubGlobal('fetch', fetchMock)
    setAccessToken(null)
  })
  afterEach(() => vi.unstubAllGlobals())

  it('restores a session from the refresh cookie on start-up', async () => {
    fetchMock.mockResolvedValue(json(200, { access_token: 'a', expires_in: 900, user }))
    const auth = useAuthStore()
    expect(auth.status).toBe('unknown')
    await auth.restore()
    expect(auth.status).toBe('signedIn')
    expect(auth.user?.username).toBe('alice')
    expect(getAccessToken()).toBe('a')
  })

  it('without a cookie the visitor is signed out', async () => {
    fetchMock.mockResolvedValue(json(401, { error: 'no cookie', code: 'missing_refresh_token' }))
    const auth = useAuthStore()
    await auth.restore()
    expect(auth.status).toBe('signedOut')
    expect(auth.endedBecause).toBeNull()
  })

  it('signs in, keeps the token in memory, signs out', async () => {
    const auth = useAuthStore()
    fetchMock.mockResolvedValueOnce(json(200, { access_token: 'tok', expires_in: 900, user }))
    await auth.login('alice', 'pw12345678')
    expect(auth.signedIn).toBe(true)
    expect(auth.isAdmin).toBe(true)
    expect(getAccessToken()).toBe('tok')
    expect(localStorage.length).toBe(0)

    fetchMock.mockResolvedValueOnce(json(204, null))
    await auth.logout()
    expect(auth.status).toBe('signedOut')
    expect(getAccessToken()).toBeNull()
  })

  it('a refused refresh in the middle of a session signs out and says why', async () => {
    const auth = useAuthStore()
    fetchMock.mockResolvedValueOnce(json(200, { access_token: 'tok', expires_in: 900, user }))
    await auth.login('alice', 'pw12345678')
    fetchMock.mockImplementation(async (input) =>
      String(input).endsWith('refresh')
        ? json(401, { error: 'reused', code: 'refresh_token_reused' })
        : json(401, { error: 'expired', code: 'token_expired' }),
    )
    await expect(http.get('api/v1/conversations')).rejects.toMatchObject({ status: 401 })
    expect(auth.status).toBe('signedOut')
    expect(auth.endedBecause).toBe('refresh_token_reused')
  })

  it('a changed password brings a new access token', async () => {
    const auth = useAuthStore()
    fetchMock.mockResolvedValueOnce(json(200, { access_token: 'old', expires_in: 900, user }))
    await auth.login('alice', 'pw12345678')
    fetchMock.mockResolvedValueOnce(
      json(200, { message: 'ok', access_token: 'new', expires_in: 900 }),
    )
    await auth.changePassword('pw12345678', 'pw87654321')
    expect(getAccessToken()).toBe('new')
  })

  it('knows a first run from GET auth/setup, until an account is registered', async () => {
    const auth = useAuthStore()
    fetchMock.mockResolvedValueOnce(json(200, { first_account: true, registration_mode: 'open' }))
    await auth.loadSetup()
    expect(auth.firstRun).toBe(true)
    expect(String(fetchMock.mock.calls[0]?.[0])).toMatch(/api\/v1\/auth\/setup$/)
    fetchMock
      .mockResolvedValueOnce(json(201, { ...user, status: 'active' }))
      .mockResolvedValueOnce(json(200, { access_token: 'tok', expires_in: 900, user }))
    await auth.register('alice', 'pw12345678')
    expect(auth.firstRun).toBe(false)
    expect(auth.signedIn).toBe(true)
  })

  it('an older server without the route (404): not a first run, registration open', async () => {
    const auth = useAuthStore()
    fetchMock.mockResolvedValueOnce(json(404, { error: 'no such API route', code: 'not_found' }))
    await auth.loadSetup()
    expect(auth.setup).toBeNull()
    expect(auth.firstRun).toBe(false)
    expect(auth.registrationMode).toBe('open')
    // Asked again next time (a network blip must not stick).
    fetchMock.mockResolvedValueOnce(
      json(200, { first_account: false, registration_mode: 'closed' }),
    )
    await auth.loadSetup()
    expect(auth.registrationMode).toBe('closed')
  })
})
