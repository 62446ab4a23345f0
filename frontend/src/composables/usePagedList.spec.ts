import { describe, expect, it, vi } from 'vitest'

import { ApiError } from '@/api/http'

import { pageOf, usePagedList, type CursorPage } from './usePagedList'

type Row = { id: string }
const rows = (...ids: string[]): Row[] => ids.map((id) => ({ id }))

/** An answer the test releases when it wants: a load still in flight. */
function deferred(): { promise: Promise<CursorPage<Row>>; resolve: (p: CursorPage<Row>) => void } {
  let resolve!: (p: CursorPage<Row>) => void
  const promise = new Promise<CursorPage<Row>>((r) => (resolve = r))
  return { promise, resolve }
}

describe('usePagedList', () => {
  it('loads the first page, then appends the next one with its cursor', async () => {
    const fetchPage = vi
      .fn<(cursor: string | null) => Promise<CursorPage<Row>>>()
      .mockResolvedValueOnce({ items: rows('a', 'b'), next_cursor: 'c1' })
      .mockResolvedValueOnce({ items: rows('c'), next_cursor: null })
    const list = usePagedList(fetchPage)

    await list.load()
    expect(list.items.value.map((r) => r.id)).toEqual(['a', 'b'])
    expect(list.hasMore.value).toBe(true)

    await list.loadMore()
    expect(fetchPage).toHaveBeenNthCalledWith(1, null)
    expect(fetchPage).toHaveBeenNthCalledWith(2, 'c1')
    expect(list.items.value.map((r) => r.id)).toEqual(['a', 'b', 'c'])
    expect(list.hasMore.value).toBe(false)
    expect(list.loading.value).toBe(false)

    await list.loadMore() // no next page: nothing is fetched
    expect(fetchPage).toHaveBeenCalledTimes(2)
  })

  it('load() starts over from the first page', async () => {
    const fetchPage = vi
      .fn<(cursor: string | null) => Promise<CursorPage<Row>>>()
      .mockResolvedValueOnce({ items: rows('a'), next_cursor: 'c1' })
      .mockResolvedValueOnce({ items: rows('z'), next_cursor: null })
    const list = usePagedList(fetchPage)
    await list.load()
    await list.load()
    expect(fetchPage).toHaveBeenLastCalledWith(null)
    expect(list.items.value.map((r) => r.id)).toEqual(['z'])
  })

  it('keeps the error of a failed load and clears it on the next good one', async () => {
    const fetchPage = vi
      .fn<(cursor: string | null) => Promise<CursorPage<Row>>>()
      .mockRejectedValueOnce(new ApiError(403, 'forbidden', 'no'))
      .mockRejectedValueOnce(new Error('offline'))
      .mockResolvedValueOnce({ items: rows('a'), next_cursor: null })
    const list = usePagedList(fetchPage)

    await list.load()
    expect(list.error.value?.code).toBe('forbidden')
    expect(list.loading.value).toBe(false)
    await list.load()
    expect(list.error.value?.status).toBe(0)
    await list.load()
    expect(list.error.value).toBeNull()
    expect(list.items.value).toHaveLength(1)
  })

  it('uses only the newest load answer', async () => {
    const first = deferred()
    const fetchPage = vi
      .fn<(cursor: string | null) => Promise<CursorPage<Row>>>()
      .mockReturnValueOnce(first.promise)
      .mockResolvedValueOnce({ items: rows('new'), next_cursor: null })
    const list = usePagedList(fetchPage)

    const older = list.load()
    await list.load()
    first.resolve({ items: rows('old'), next_cursor: 'x' })
    await older
    expect(list.items.value.map((r) => r.id)).toEqual(['new'])
    expect(list.nextCursor.value).toBeNull()
  })

  it('a load answered before a delete does not bring the row back', async () => {
    const stale = deferred()
    const fetchPage = vi
      .fn<(cursor: string | null) => Promise<CursorPage<Row>>>()
      .mockResolvedValueOnce({ items: rows('a', 'b'), next_cursor: null })
      .mockReturnValueOnce(stale.promise)
    const list = usePagedList(fetchPage)
    await list.load()

    const loading = list.load()
    list.remove((r) => r.id === 'a')
    stale.resolve({ items: rows('a', 'b'), next_cursor: null })
    await loading
    expect(list.items.value.map((r) => r.id)).toEqual(['b'])
    expect(list.loading.value).toBe(false)
  })

  it('replace() swaps the matching row in place', async () => {
    const list = usePagedList<Row & { n?: number }>(async () => ({
      items: [{ id: 'a' }, { id: 'b' }],
      next_cursor: null,
    }))
    await list.load()
    list.replace((r) => r.id === 'b', { id: 'b', n: 2 })
    expect(list.items.value).toEqual([{ id: 'a' }, { id: 'b', n: 2 }])
  })

  it('pageOf() reads a page whose items sit under their own key', () => {
    expect(pageOf('users', { users: rows('a'), next_cursor: 'n' })).toEqual({
      items: rows('a'),
      next_cursor: 'n',
    })
    expect(pageOf('users', { users: [] })).toEqual({ items: [], next_cursor: null })
  })
})
