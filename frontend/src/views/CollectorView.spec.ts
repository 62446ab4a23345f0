import { afterEach, describe, expect, it, vi } from 'vitest'

import type { CollectorItem } from '@/api/types'

vi.mock('@/api/collector', () => ({
  listItems: vi.fn(),
  listTags: vi.fn(async () => [{ tag: 'archive', count: 3 }]),
  getItem: vi.fn(),
  uploadItem: vi.fn(),
  createItem: vi.fn(),
  updateItem: vi.fn(),
  deleteItem: vi.fn(),
}))

const collectorApi = await import('@/api/collector')
const { ApiError } = await import('@/api/http')
const { byTestId, mountView, settle, testUser, waitFor } = await import('@/testing/mount')
const { default: CollectorView } = await import('./CollectorView.vue')

const item = (id: string, title: string, tags: string[] = []): CollectorItem => ({
  id,
  title,
  content: `${title} 내용`,
  url: null,
  tags,
  source_message_id: null,
  created_at: '2024-01-01T00:00:00Z',
  updated_at: '2024-01-01T00:00:00Z',
})

function choose(el: HTMLElement, files: File[]): void {
  const input = byTestId(el, 'collector-file') as HTMLInputElement
  Object.defineProperty(input, 'files', { value: files, configurable: true })
  input.dispatchEvent(new Event('change'))
}

describe('collector page', () => {
  let unmount = () => undefined as void
  afterEach(() => {
    unmount()
    vi.clearAllMocks()
  })

  it('uploads text files and explains each refusal (type, size, the server’s own)', async () => {
    vi.mocked(collectorApi.listItems).mockResolvedValue({ items: [], next_cursor: null })
    vi.mocked(collectorApi.uploadItem).mockImplementation(async (file: File) => {
      if (file.name === 'weird.json')
        throw new ApiError(415, 'unsupported_media_type', 'not UTF-8 text')
      return item('i1', file.name)
    })
    const view = await mountView(CollectorView, '/collector', { user: testUser() })
    unmount = view.unmount
    expect(byTestId(view.el, 'collector-empty')).not.toBeNull()
    const big = new File(['x'], 'big.txt')
    Object.defineProperty(big, 'size', { value: 20 * 1024 * 1024 })
    choose(view.el, [
      new File(['# 회의록\n내용'], '회의록.md'),
      new File(['MZ'], 'setup.exe'),
      big,
      new File(['{}'], 'weird.json'),
    ])
    await waitFor(() => view.el.querySelectorAll('[data-testid="upload-note"]').length === 4)
    const notes = [...view.el.querySelectorAll('[data-testid="upload-note"]')].map((n) =>
      n.textContent?.replace(/\s+/g, ' ').trim(),
    )
    expect(notes[0]).toContain('회의록.md — added')
    expect(notes[1]).toContain('“.exe” files are not accepted')
    expect(notes[2]).toContain('20 MiB is more than the 10 MiB limit')
    expect(notes[3]).toContain('not accepted: only text files. (not UTF-8 text)')
    // Only the acceptable files reached the server.
    expect(vi.mocked(collectorApi.uploadItem).mock.calls.map(([f]) => f.name)).toEqual([
      '회의록.md',
      'weird.json',
    ])
  })

  it('opens an item with its full text (lists carry only an excerpt)', async () => {
    vi.mocked(collectorApi.listItems).mockResolvedValue({
      items: [{ ...item('a', 'Long'), content: undefined, excerpt: 'start…' }],
      next_cursor: null,
    })
    vi.mocked(collectorApi.getItem).mockResolvedValue({
      ...item('a', 'Long'),
      content: 'start… and the rest',
    })
    const view = await mountView(CollectorView, '/collector', { user: testUser() })
    unmount = view.unmount
    expect(byTestId(view.el, 'collector-item')?.textContent).toContain('start…')
    byTestId(view.el, 'collector-item-title')!.click()
    await waitFor(() =>
      Boolean(byTestId(view.el, 'collector-item-content')?.textContent?.includes('the rest')),
    )
    expect(collectorApi.getItem).toHaveBeenCalledWith('a')
  })

  it('searches and filters by tag through the server', async () => {
    vi.mocked(collectorApi.listItems).mockResolvedValue({
      items: [item('a', 'Alpha', ['work']), item('b', 'Beta', ['home'])],
      next_cursor: null,
    })
    const view = await mountView(CollectorView, '/collector', { user: testUser() })
    unmount = view.unmount
    expect(view.el.querySelectorAll('[data-testid="collector-item"]')).toHaveLength(2)
    // Tags come from the server's tag list as well as from the listed items.
    const tagNames = [...view.el.querySelectorAll('[data-testid="collector-tag"]')].map((b) =>
      b.textContent?.trim(),
    )
    expect(tagNames).toEqual(['#archive', '#home', '#work'])
    const tag = [...view.el.querySelectorAll<HTMLElement>('[data-testid="collector-tag"]')].find(
      (b) => b.textContent?.includes('work'),
    )!
    tag.click()
    await settle()
    expect(collectorApi.listItems).toHaveBeenLastCalledWith({
      q: undefined,
      tag: 'work',
      cursor: undefined,
    })
    const search = byTestId(view.el, 'collector-search') as HTMLInputElement
    search.value = '알파'
    search.dispatchEvent(new Event('input'))
    await waitFor(
      () => vi.mocked(collectorApi.listItems).mock.calls.at(-1)?.[0]?.q === '알파',
      2000,
    )
    expect(collectorApi.listItems).toHaveBeenLastCalledWith({
      q: '알파',
      tag: 'work',
      cursor: undefined,
    })
  })
})
