import { afterEach, describe, expect, it, vi } from 'vitest'

import { acquireBlobUrl, cachedBlobCount, KEEP_MS, releaseBlobUrl } from './fileBlobs'

describe('file blob URLs', () => {
  afterEach(() => {
    vi.useRealTimers()
    vi.restoreAllMocks()
  })

  it('fetches a path once for all its users and revokes it after the last lets go', async () => {
    vi.useFakeTimers()
    let n = 0
    vi.spyOn(URL, 'createObjectURL').mockImplementation(() => `blob:test-${++n}`)
    const revoke = vi.spyOn(URL, 'revokeObjectURL').mockImplementation(() => undefined)
    const load = vi.fn(async () => new Blob(['x']))
    const a = await acquireBlobUrl('api/v1/files/1/preview', load)
    const b = await acquireBlobUrl('api/v1/files/1/preview', load)
    expect(a).toBe('blob:test-1')
    expect(b).toBe(a)
    expect(load).toHaveBeenCalledTimes(1)

    releaseBlobUrl('api/v1/files/1/preview')
    vi.advanceTimersByTime(KEEP_MS + 1)
    expect(revoke).not.toHaveBeenCalled() // one user left
    releaseBlobUrl('api/v1/files/1/preview')
    // Taken again before the delay: kept.
    await acquireBlobUrl('api/v1/files/1/preview', load)
    vi.advanceTimersByTime(KEEP_MS + 1)
    expect(revoke).not.toHaveBeenCalled()
    releaseBlobUrl('api/v1/files/1/preview')
    vi.advanceTimersByTime(KEEP_MS + 1)
    expect(revoke).toHaveBeenCalledWith('blob:test-1')
    expect(cachedBlobCount()).toBe(0)
  })

  it('a failed fetch is not cached: the next user tries again', async () => {
    const load = vi
      .fn<(path: string) => Promise<Blob>>()
      .mockRejectedValueOnce(new Error('404'))
      .mockResolvedValue(new Blob(['x']))
    vi.spyOn(URL, 'createObjectURL').mockImplementation(() => 'blob:again')
    await expect(acquireBlobUrl('api/v1/files/2/preview', load)).rejects.toThrow('404')
    await expect(acquireBlobUrl('api/v1/files/2/preview', load)).resolves.toBe('blob:again')
    expect(load).toHaveBeenCalledTimes(2)
  })
})
