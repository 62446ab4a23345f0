import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { listQuery } from '@/api/conversations'
import * as groups from '@/api/groups'
import * as organize from '@/api/organize'

function jsonResponse(status: number, body: unknown): Response {
  return new Response(status === 204 ? null : JSON.stringify(body), {
    status,
    headers: { 'Content-Type': 'application/json' },
  })
}

describe('issue 21 routes', () => {
  const fetchMock = vi.fn<typeof fetch>()
  beforeEach(() => {
    fetchMock.mockReset()
    vi.stubGlobal('fetch', fetchMock)
  })
  afterEach(() => vi.unstubAllGlobals())

  const call = (n = 0) => {
    const [url, init] = fetchMock.mock.calls[n]!
    return { url: String(url), method: init?.method ?? 'GET', body: init?.body }
  }

  it('repeats tag in the list query, with the folder filter', () => {
    expect(listQuery({ folder_id: 'none', tag: ['work', '여행'] })).toBe(
      `?folder_id=none&tag=work&tag=${encodeURIComponent('여행')}`,
    )
    expect(listQuery({ tag: ['a b'] })).toBe('?tag=a%20b')
    expect(listQuery({})).toBe('')
  })

  it('folders: list, create, delete with the choice', async () => {
    fetchMock.mockResolvedValueOnce(jsonResponse(200, { folders: [{ id: 'f' }] }))
    expect(await organize.listFolders()).toEqual([{ id: 'f' }])
    expect(call().url).toMatch(/\/api\/v1\/folders$/)

    fetchMock.mockResolvedValueOnce(jsonResponse(201, { id: 'g' }))
    await organize.createFolder({ name: 'x', parent_id: 'f' })
    expect(call(1)).toMatchObject({ method: 'POST', body: '{"name":"x","parent_id":"f"}' })

    fetchMock.mockResolvedValueOnce(jsonResponse(204, null))
    await organize.deleteFolder('f', true)
    expect(call(2).method).toBe('DELETE')
    expect(call(2).url).toMatch(/\/api\/v1\/folders\/f\?delete_conversations=true$/)
  })

  it('tags and the retention preview', async () => {
    fetchMock.mockResolvedValueOnce(jsonResponse(200, { tags: [{ name: 'work', count: 2 }] }))
    expect(await organize.listTags()).toEqual([{ name: 'work', count: 2 }])

    fetchMock.mockResolvedValueOnce(
      jsonResponse(200, { conversations: 3, archived_conversations: 1, users: 2 }),
    )
    await groups.previewRetention(30, null)
    expect(call(1).url).toMatch(/\/api\/v1\/admin\/retention\/preview\?days=30$/)
  })

  it('groups: members added in bulk', async () => {
    fetchMock.mockResolvedValueOnce(jsonResponse(200, { added: 2 }))
    expect(await groups.addGroupMembers('g1', ['u1', 'u2'])).toEqual({ added: 2 })
    expect(call()).toMatchObject({ method: 'POST', body: '{"user_ids":["u1","u2"]}' })
    expect(call().url).toMatch(/\/api\/v1\/admin\/groups\/g1\/members$/)
  })
})
