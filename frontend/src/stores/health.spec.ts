import { createPinia, setActivePinia } from 'pinia'
import { beforeEach, describe, expect, it, vi } from 'vitest'

import { getHealth, type Health } from '@/api/health'
import { ApiError } from '@/api/http'

import { useHealthStore } from './health'

vi.mock('@/api/health', () => ({ getHealth: vi.fn() }))

const getHealthMock = vi.mocked(getHealth)

/** A promise we settle by hand, to look at the store while the request is in flight. */
function deferred<T>() {
  let resolve!: (value: T) => void
  let reject!: (reason: unknown) => void
  const promise = new Promise<T>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

describe('health store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    getHealthMock.mockReset()
  })

  it('starts idle', () => {
    const store = useHealthStore()
    expect(store.state).toBe('idle')
    expect(store.health).toBeNull()
    expect(store.error).toBeNull()
  })

  it('goes loading → ok with the server answer', async () => {
    const answer = deferred<Health>()
    getHealthMock.mockReturnValue(answer.promise)
    const store = useHealthStore()

    const loading = store.load()
    expect(store.state).toBe('loading')

    answer.resolve({ status: 'ok', db: 'ok', version: '0.1.0' })
    await loading
    expect(store.state).toBe('ok')
    expect(store.health).toEqual({ status: 'ok', db: 'ok', version: '0.1.0' })
    expect(store.error).toBeNull()
  })

  it('goes loading → error with the ApiError', async () => {
    const answer = deferred<Health>()
    getHealthMock.mockReturnValue(answer.promise)
    const store = useHealthStore()

    const loading = store.load()
    expect(store.state).toBe('loading')

    answer.reject(new ApiError(0, 'network_error', 'Failed to fetch'))
    await loading
    expect(store.state).toBe('error')
    expect(store.health).toBeNull()
    expect(store.error).toMatchObject({ status: 0, code: 'network_error' })
  })

  it('clears the error when it loads again', async () => {
    getHealthMock.mockRejectedValueOnce(new ApiError(503, 'db_unavailable', 'database down'))
    getHealthMock.mockResolvedValueOnce({ status: 'ok', db: 'ok', version: '0.1.0' })
    const store = useHealthStore()

    await store.load()
    expect(store.state).toBe('error')

    const retry = store.load()
    expect(store.error).toBeNull()
    await retry
    expect(store.state).toBe('ok')
  })
})
