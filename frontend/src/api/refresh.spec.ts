import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { ApiError, getAccessToken, http, setAccessToken, setAuthHooks } from './http'

function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

const expired = () => json(401, { error: 'token expired', code: 'token_expired' })
const tokens = (access: string) =>
  json(200, {
    access_token: access,
    token_type: 'bearer',
    expires_in: 900,
    refresh_token: 'r',
    refresh_expires_in: 1,
    user: { id: 'u1', username: 'alice', role: 'admin', status: 'active' },
  })

function authOf(init: RequestInit | undefined): string | undefined {
  return (init?.headers as Record<string, string> | undefined)?.Authorization
}

describe('http: the access token and the refresh queue', () => {
  const fetchMock = vi.fn<typeof fetch>()
  const onRefreshed = vi.fn()
  const onSignedOut = vi.fn()

  beforeEach(() => {
    fetchMock.mockReset()
    onRefreshed.mockReset()
    onSignedOut.mockReset()
    vi.stubGlobal('fetch', fetchMock)
    setAuthHooks({ onRefreshed, onSignedOut })
    setAccessToken('old')
  })

  afterEach(() => {
    vi.unstubAllGlobals()
    setAccessToken(null)
    setAuthHooks({})
  })

  it('sends the in-memory token as a bearer header, with same-origin credentials', async () => {
    fetchMock.mockResolvedValue(json(200, { ok: true }))
    await http.get('api/v1/auth/me')
    const [, init] = fetchMock.mock.calls[0]!
    expect(authOf(init)).toBe('Bearer old')
    expect(init?.credentials).toBe('same-origin')
  })

  it('two concurrent 401s cause ONE refresh, then both requests are retried with the new token', async () => {
    let refreshCalls = 0
    let releaseRefresh: () => void = () => undefined
    fetchMock.mockImplementation(async (input, init) => {
      const url = String(input)
      if (url.endsWith('api/v1/auth/refresh')) {
        refreshCalls++
        await new Promise<void>((resolve) => (releaseRefresh = resolve))
        return tokens('new')
      }
      return authOf(init) === 'Bearer new' ? json(200, { url }) : expired()
    })

    const a = http.get<{ url: string }>('api/v1/conversations')
    const b = http.get<{ url: string }>('api/v1/models')
    await vi.waitFor(() => expect(refreshCalls).toBe(1))
    releaseRefresh()

    await expect(a).resolves.toEqual({ url: '/api/v1/conversations' })
    await expect(b).resolves.toEqual({ url: '/api/v1/models' })
    expect(refreshCalls).toBe(1)
    expect(getAccessToken()).toBe('new')
    expect(onRefreshed).toHaveBeenCalledTimes(1)
    // Each request: first try, one retry; plus the single refresh.
    expect(fetchMock).toHaveBeenCalledTimes(5)
    // The refresh sends the cookie, not the stale bearer token.
    const refreshInit = fetchMock.mock.calls.find(([u]) => String(u).endsWith('refresh'))![1]
    expect(authOf(refreshInit)).toBeUndefined()
    expect(refreshInit?.credentials).toBe('same-origin')
  })

  it('a request sent while a refresh runs waits for it instead of collecting a 401', async () => {
    let releaseRefresh: () => void = () => undefined
    fetchMock.mockImplementation(async (input, init) => {
      const url = String(input)
      if (url.endsWith('refresh')) {
        await new Promise<void>((resolve) => (releaseRefresh = resolve))
        return tokens('new')
      }
      return authOf(init) === 'Bearer new' ? json(200, {}) : expired()
    })
    const first = http.get('api/v1/a')
    await vi.waitFor(() =>
      expect(fetchMock.mock.calls.some(([u]) => String(u).endsWith('refresh'))).toBe(true),
    )
    const second = http.get('api/v1/b')
    releaseRefresh()
    await Promise.all([first, second])
    const bCalls = fetchMock.mock.calls.filter(([u]) => String(u).endsWith('api/v1/b'))
    expect(bCalls).toHaveLength(1)
    expect(authOf(bCalls[0]![1])).toBe('Bearer new')
  })

  it('a failed refresh signs out, and every waiting request fails with its 401', async () => {
    fetchMock.mockImplementation(async (input) => {
      if (String(input).endsWith('refresh')) {
        return json(401, { error: 'reused', code: 'refresh_token_reused' })
      }
      return expired()
    })

    const results = await Promise.allSettled([http.get('api/v1/a'), http.get('api/v1/b')])

    for (const result of results) {
      expect(result.status).toBe('rejected')
      const error = (result as PromiseRejectedResult).reason as ApiError
      expect(error).toBeInstanceOf(ApiError)
      expect(error.status).toBe(401)
      expect(error.code).toBe('token_expired')
    }
    expect(fetchMock.mock.calls.filter(([u]) => String(u).endsWith('refresh'))).toHaveLength(1)
    expect(onSignedOut).toHaveBeenCalledTimes(1)
    expect(getAccessToken()).toBeNull()
  })

  it('retries only once: a second 401 after the refresh is final', async () => {
    fetchMock.mockImplementation(async (input) =>
      String(input).endsWith('refresh') ? tokens('new') : expired(),
    )
    await expect(http.get('api/v1/a')).rejects.toMatchObject({ status: 401 })
    expect(fetchMock).toHaveBeenCalledTimes(3)
  })

  it('does not refresh for a 401 that a refresh cannot fix, nor for the login call', async () => {
    fetchMock.mockResolvedValue(
      json(401, { error: 'wrong username or password', code: 'invalid_credentials' }),
    )
    await expect(http.post('api/v1/auth/login', {})).rejects.toMatchObject({
      code: 'invalid_credentials',
    })
    expect(fetchMock).toHaveBeenCalledTimes(1)

    fetchMock.mockResolvedValue(json(403, { error: 'admins only', code: 'admin_only' }))
    await expect(http.get('api/v1/users')).rejects.toMatchObject({ status: 403 })
    expect(fetchMock).toHaveBeenCalledTimes(2)
  })

  it('keeps the session when the refresh only failed on the network', async () => {
    fetchMock.mockImplementation(async (input) => {
      if (String(input).endsWith('refresh')) throw new TypeError('Failed to fetch')
      return expired()
    })
    await expect(http.get('api/v1/a')).rejects.toMatchObject({ status: 401 })
    expect(onSignedOut).not.toHaveBeenCalled()
  })

  it('reads validation fields and Retry-After from error answers', async () => {
    fetchMock.mockResolvedValueOnce(
      json(422, {
        error: 'some fields are invalid',
        code: 'validation_failed',
        fields: { username: 'too short' },
      }),
    )
    await expect(http.post('api/v1/auth/register', {})).rejects.toMatchObject({
      fields: { username: 'too short' },
    })
    fetchMock.mockResolvedValueOnce(
      new Response(JSON.stringify({ error: 'slow down', code: 'rate_limited' }), {
        status: 429,
        headers: { 'Retry-After': '30' },
      }),
    )
    await expect(http.post('api/v1/auth/login', {})).rejects.toMatchObject({ retryAfter: 30 })
  })

  it('never writes a token to localStorage or sessionStorage', async () => {
    const setItem = vi.spyOn(Storage.prototype, 'setItem')
    fetchMock.mockImplementation(async (input, init) =>
      String(input).endsWith('refresh')
        ? tokens('secret-token')
        : authOf(init) === 'Bearer secret-token'
          ? json(200, {})
          : expired(),
    )
    await http.get('api/v1/a')
    for (const [, value] of setItem.mock.calls) expect(value).not.toContain('secret-token')
    setItem.mockRestore()
  })
})
