import { afterEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h } from 'vue'

import type { Message, StoredFile } from '@/api/types'

/** The bytes of a file, as the server would send them (with the token): asked per path. */
const fetched: string[] = []
vi.mock('@/api/files', async (original) => ({
  ...(await original<typeof import('@/api/files')>()),
  fetchBlob: vi.fn(async (path: string) => {
    fetched.push(path)
    return new Blob(['png'], { type: 'image/png' })
  }),
}))

const { mountView, settle, testUser } = await import('@/testing/mount')
const { default: ChatMessage } = await import('./ChatMessage.vue')

const message = (over: Partial<Message>): Message => ({
  id: 'm1',
  idx: 0,
  role: 'user',
  content: '회의록을 요약해 줘',
  model_id: null,
  status: 'complete',
  parent_id: null,
  sibling_ids: ['m1'],
  created_at: '2024-01-01T00:00:00Z',
  updated_at: '2024-01-01T00:00:00Z',
  ...over,
})

function root(m: Message, props: Record<string, unknown> = {}) {
  return defineComponent({
    render: () => h(ChatMessage, { message: m, isLast: true, busy: false, ...props }),
  })
}

describe('chat message', () => {
  let unmount = () => undefined as void
  afterEach(() => unmount())

  it('a question shows its text once, and the collector items it used', async () => {
    const view = await mountView(
      root(
        message({
          context: [
            { collector_item_id: 'i1', title: '회의록.md', truncated: false },
            { collector_item_id: 'i2', title: 'prices.csv', truncated: true },
          ],
        }),
      ),
      '/settings',
      { user: testUser() },
    )
    unmount = view.unmount
    const contents = view.el.querySelectorAll('[data-testid="message-content"]')
    expect(contents).toHaveLength(1)
    expect(contents[0]?.textContent?.trim()).toBe('회의록을 요약해 줘')
    const used = view.el.querySelector('[data-testid="message-used-items"]')
    expect(used?.getAttribute('aria-label')).toBe('Used 2 collector items')
    expect(used?.textContent).toContain('회의록.md')
    expect(used?.textContent).toContain('prices.csv (only the start)')
    expect(view.el.querySelector('[data-testid="save-to-collector"]')).toBeNull()
  })

  it('an answer can be saved to the collector', async () => {
    const view = await mountView(
      root(message({ role: 'assistant', content: '**요약**: 배포는 금요일' })),
      '/settings',
      { user: testUser() },
    )
    unmount = view.unmount
    expect(view.el.querySelectorAll('[data-testid="message-content"]')).toHaveLength(1)
    expect(view.el.querySelector('[data-testid="save-to-collector"]')).not.toBeNull()
    expect(view.el.querySelector('[data-testid="message-used-items"]')).toBeNull()
  })

  it('any question can be edited, not only the last; the edit is emitted', async () => {
    const edits: string[] = []
    const view = await mountView(
      root(message({ content: 'the first question' }), {
        isLast: false,
        onEdit: (text: string) => edits.push(text),
      }),
      '/settings',
      { user: testUser() },
    )
    unmount = view.unmount
    const edit = view.el.querySelector<HTMLButtonElement>('[data-testid="edit"]')
    expect(edit, 'no edit button on an earlier question').not.toBeNull()
    edit!.click()
    await settle()
    const input = view.el.querySelector<HTMLTextAreaElement>('[data-testid="edit-input"]')!
    expect(input.value).toBe('the first question')
    input.value = 'the first question, better'
    input.dispatchEvent(new Event('input'))
    await settle()
    view.el.querySelector<HTMLButtonElement>('[data-testid="edit-save"]')!.click()
    await settle()
    expect(edits).toEqual(['the first question, better'])
  })

  it('an edit that did not go through opens the editor again with its text', async () => {
    const taken: number[] = []
    const view = await mountView(
      root(message({}), {
        editDraft: '다시 보낼 질문',
        onEditDraftTaken: () => taken.push(1),
      }),
      '/settings',
      { user: testUser() },
    )
    unmount = view.unmount
    const input = view.el.querySelector<HTMLTextAreaElement>('[data-testid="edit-input"]')
    expect(input?.value).toBe('다시 보낼 질문')
    expect(taken).toHaveLength(1)
  })

  it('an interrupted answer offers reload and regenerate instead of spinning', async () => {
    const events: string[] = []
    const view = await mountView(
      root(message({ role: 'assistant', content: 'half an', status: 'error' }), {
        interrupted: true,
        onReload: () => events.push('reload'),
        onRegenerate: () => events.push('regenerate'),
      }),
      '/settings',
      { user: testUser() },
    )
    unmount = view.unmount
    expect(view.el.querySelector('.typing')).toBeNull()
    const note = view.el.querySelector('[data-testid="interrupted"]')
    expect(note?.getAttribute('role')).toBe('alert')
    expect(view.el.querySelector('[data-testid="message-error"]')).toBeNull()
    view.el.querySelector<HTMLButtonElement>('[data-testid="interrupted-reload"]')!.click()
    view.el.querySelector<HTMLButtonElement>('[data-testid="interrupted-regenerate"]')!.click()
    expect(events).toEqual(['reload', 'regenerate'])
  })

  it('a question shows its files: image thumbnails (fetched with the token) and documents', async () => {
    const file = (over: Partial<StoredFile>): StoredFile => ({
      id: 'f1',
      name: 'chart.png',
      size: 2048,
      mime: 'image/png',
      kind: 'image',
      width: 640,
      height: 480,
      text_chars: 0,
      extract_error: null,
      created_at: '2026-12-04T10:00:00Z',
      ...over,
    })
    fetched.length = 0
    const view = await mountView(
      root(
        message({
          content: '이 그래프를 설명해 줘',
          files: [
            file({}),
            file({
              id: 'f2',
              name: 'report.pdf',
              size: 3 * 1024 * 1024,
              mime: 'application/pdf',
              kind: 'document',
              width: null,
              height: null,
              text_chars: 5321,
            }),
          ],
        }),
      ),
      '/settings',
      { user: testUser() },
    )
    unmount = view.unmount
    await settle()
    const files = view.el.querySelector('[data-testid="message-files"]')
    expect(files?.getAttribute('aria-label')).toBe('2 files')
    const image = view.el.querySelector<HTMLButtonElement>('[data-testid="message-image"]')
    expect(image?.getAttribute('aria-label')).toBe('Open chart.png full size')
    const img = image?.querySelector('img')
    expect(img?.getAttribute('src')).toMatch(/^blob:/)
    expect(img?.getAttribute('alt')).toBe('chart.png')
    // The preview, never a URL with a token in it.
    expect(fetched).toEqual(['api/v1/files/f1/preview'])
    const doc = view.el.querySelector('[data-testid="message-document"]')
    expect(doc?.textContent).toContain('report.pdf')
    expect(doc?.textContent).toContain('3 MiB')
    expect(doc?.getAttribute('aria-label')).toBe('Download report.pdf')
    expect(view.el.querySelector('[data-testid="message-content"]')?.textContent?.trim()).toBe(
      '이 그래프를 설명해 줘',
    )
    // A click opens the full size (the original bytes) in a lightbox.
    image!.click()
    await settle()
    expect(document.querySelector('[data-testid="image-lightbox"]')).not.toBeNull()
    expect(fetched).toContain('api/v1/files/f1')
  })

  it('a question of files only shows no empty bubble', async () => {
    const view = await mountView(
      root(
        message({
          content: '',
          files: [
            {
              id: 'f3',
              name: 'notes.txt',
              size: 12,
              mime: 'text/plain',
              kind: 'document',
              created_at: '2026-12-04T10:00:00Z',
            },
          ],
        }),
      ),
      '/settings',
      { user: testUser() },
    )
    unmount = view.unmount
    expect(view.el.querySelector('[data-testid="message-content"]')).toBeNull()
    expect(view.el.querySelector('[data-testid="message-document"]')?.textContent).toContain(
      'notes.txt',
    )
  })
})
