import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { ApiError, http, onServerReachable } from './http'

describe('onServerReachable', () => {
  const fetchMock = vi.fn<typeof fetch>()
  beforeEach(() => {
    fetchMock.mockReset()
    vi.stubGlobal('fetch', fetchMock)
  })
  afterEach(() => vi.unstubAllGlobals())

  it('is told of every answer from the server (errors too), not of network failures', async () => {
    const heard = vi.fn()
    const stop = onServerReachable(heard)
    fetchMock.mockRejectedValueOnce(new TypeError('Failed to fetch'))
    await expect(http.get('api/v1/health')).rejects.toMatchObject({ status: 0 })
    expect(heard).not.toHaveBeenCalled()

    fetchMock.mockResolvedValueOnce(new Response('{}', { status: 200 }))
    await http.get('api/v1/health')
    fetchMock.mockResolvedValueOnce(
      new Response(JSON.stringify({ error: 'no', code: 'not_found' }), { status: 404 }),
    )
    await expect(http.get('api/v1/x')).rejects.toBeInstanceOf(ApiError)
    expect(heard).toHaveBeenCalledTimes(2)

    stop()
    fetchMock.mockResolvedValueOnce(new Response('{}', { status: 200 }))
    await http.get('api/v1/health')
    expect(heard).toHaveBeenCalledTimes(2)
  })

  it("a listener's error does not break the request", async () => {
    const stop = onServerReachable(() => {
      throw new Error('listener bug')
    })
    fetchMock.mockResolvedValueOnce(new Response('{"ok":true}', { status: 200 }))
    await expect(http.get('api/v1/health')).resolves.toEqual({ ok: true })
    stop()
  })
})
