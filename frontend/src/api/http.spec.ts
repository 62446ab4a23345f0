import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { getHealth } from './health'
import { ApiError, apiUrl, http } from './http'

function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

function setBase(href: string): void {
  document.head.querySelectorAll('base').forEach((el) => el.remove())
  const base = document.createElement('base')
  base.href = href
  document.head.append(base)
}

describe('http', () => {
  const fetchMock = vi.fn<typeof fetch>()

  beforeEach(() => {
    setBase('/')
    fetchMock.mockReset()
    vi.stubGlobal('fetch', fetchMock)
  })

  afterEach(() => {
    vi.unstubAllGlobals()
    document.head.querySelectorAll('base').forEach((el) => el.remove())
  })

  it('builds URLs under the base path', () => {
    expect(apiUrl('api/v1/health')).toBe('/api/v1/health')
    setBase('/chat/')
    expect(apiUrl('api/v1/health')).toBe('/chat/api/v1/health')
    expect(apiUrl('/api/v1/health')).toBe('/chat/api/v1/health')
  })

  it('requests JSON under the base path and parses the answer', async () => {
    setBase('/chat/')
    fetchMock.mockResolvedValue(jsonResponse(200, { status: 'ok', db: 'ok', version: '0.1.0' }))

    await expect(getHealth()).resolves.toEqual({ status: 'ok', db: 'ok', version: '0.1.0' })

    expect(fetchMock).toHaveBeenCalledTimes(1)
    const [url, init] = fetchMock.mock.calls[0]!
    expect(url).toBe('/chat/api/v1/health')
    expect(init?.method).toBe('GET')
    expect(init?.headers).toMatchObject({ Accept: 'application/json' })
    expect(init?.body).toBeUndefined()
  })

  it('sends a body as JSON', async () => {
    fetchMock.mockResolvedValue(jsonResponse(201, { id: '1' }))

    await expect(http.post('api/v1/things', { name: '대화' })).resolves.toEqual({ id: '1' })

    const [, init] = fetchMock.mock.calls[0]!
    expect(init?.method).toBe('POST')
    expect(init?.headers).toMatchObject({ 'Content-Type': 'application/json' })
    expect(init?.body).toBe('{"name":"대화"}')
  })

  it('turns the server error body into an ApiError', async () => {
    fetchMock.mockResolvedValue(
      jsonResponse(404, { error: 'conversation not found', code: 'not_found' }),
    )

    const error = await http.get('api/v1/conversations/123').catch((e: unknown) => e)

    expect(error).toBeInstanceOf(ApiError)
    expect(error).toMatchObject({
      status: 404,
      code: 'not_found',
      message: 'conversation not found',
    })
  })

  it('keeps the status when an error body is not JSON', async () => {
    fetchMock.mockResolvedValue(
      new Response('<html>Bad Gateway</html>', { status: 502, statusText: 'Bad Gateway' }),
    )

    await expect(http.get('api/v1/health')).rejects.toMatchObject({
      status: 502,
      code: 'http_502',
      message: '502 Bad Gateway',
    })
  })

  it('reports an unreachable server as status 0', async () => {
    fetchMock.mockRejectedValue(new TypeError('Failed to fetch'))

    await expect(http.get('api/v1/health')).rejects.toMatchObject({
      name: 'ApiError',
      status: 0,
      code: 'network_error',
    })
  })

  it('answers undefined for 204 No Content', async () => {
    fetchMock.mockResolvedValue(new Response(null, { status: 204 }))

    await expect(http.delete('api/v1/things/1')).resolves.toBeUndefined()
  })
})
