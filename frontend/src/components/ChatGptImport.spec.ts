import { afterEach, describe, expect, it, vi } from 'vitest'

import type { ChatGptImportResult } from '@/api/types'
import type { UploadOptions } from '@/api/files'

vi.mock('@/api/organize', () => ({
  importChatGpt: vi.fn(),
  listTags: vi.fn(async () => []),
  listFolders: vi.fn(async () => []),
}))
vi.mock('@/api/conversations', () => ({
  listConversations: vi.fn(async () => ({ conversations: [], next_cursor: null })),
}))

const organize = await import('@/api/organize')
const { ApiError } = await import('@/api/http')
const { byTestId, mountView, settle, testUser } = await import('@/testing/mount')
const { default: ChatGptImport } = await import('./ChatGptImport.vue')

function pick(el: HTMLElement, file: File): void {
  const input = byTestId(el, 'chatgpt-file') as HTMLInputElement
  Object.defineProperty(input, 'files', { value: [file], configurable: true })
  input.dispatchEvent(new Event('change'))
}

const zip = () => new File(['PK'], 'export.zip', { type: 'application/zip' })

describe('Import from ChatGPT', () => {
  let unmount = () => undefined as void
  afterEach(() => {
    unmount()
    vi.mocked(organize.importChatGpt).mockReset()
  })

  it('uploads with progress, then shows the summary with reasons and links', async () => {
    let release!: (r: ChatGptImportResult) => void
    let options: UploadOptions = {}
    vi.mocked(organize.importChatGpt).mockImplementation((_file, opts) => {
      options = opts ?? {}
      return new Promise((resolve) => (release = resolve))
    })
    const view = await mountView(ChatGptImport, '/settings', { user: testUser() })
    unmount = view.unmount
    expect((byTestId(view.el, 'chatgpt-start') as HTMLButtonElement).disabled).toBe(true)
    pick(view.el, zip())
    await settle()
    byTestId(view.el, 'chatgpt-start')!.click()
    await settle()
    options.onProgress?.(0.4)
    await settle()
    expect(byTestId(view.el, 'chatgpt-progress')?.textContent).toContain('Uploading… 40%')
    options.onProgress?.(1)
    await settle()
    expect(byTestId(view.el, 'chatgpt-progress')?.textContent).toContain('Importing')

    release({
      imported: 2,
      skipped: 1,
      attachments_skipped: 4,
      conversations: [
        { id: 'c1', title: '<b>강아지</b> 산책' },
        { id: 'c2', title: 'Trip' },
      ],
      problems: [{ title: 'Loop', reason: 'the mapping has a cycle' }],
    })
    await settle()
    const summary = byTestId(view.el, 'chatgpt-summary')!
    expect(byTestId(summary, 'chatgpt-imported')?.textContent).toContain('2 conversations imported')
    expect(byTestId(summary, 'chatgpt-skipped')?.textContent).toContain('1 skipped')
    expect(byTestId(summary, 'chatgpt-attachments')?.textContent).toContain('4 images or files')
    expect(byTestId(summary, 'chatgpt-problems')?.textContent).toContain(
      'Loop — the mapping has a cycle',
    )
    const links = [...byTestId(summary, 'chatgpt-links')!.querySelectorAll('a')]
    expect(links.map((a) => a.textContent)).toEqual(['<b>강아지</b> 산책', 'Trip'])
    expect(links[0]?.querySelector('b'), 'a title became markup').toBeNull()
    expect(links[0]?.getAttribute('href')).toMatch(/\/c\/c1$/)
  })

  it.each([
    [new ApiError(413, 'file_too_large', 'too big'), 'larger than 100 MB'],
    [new ApiError(422, 'not_chatgpt_export', 'nope'), 'not a ChatGPT export'],
    [new ApiError(409, 'import_in_progress', 'busy'), 'already running'],
  ])('words the error %#', async (error, words) => {
    vi.mocked(organize.importChatGpt).mockRejectedValueOnce(error)
    const view = await mountView(ChatGptImport, '/settings', { user: testUser() })
    unmount = view.unmount
    pick(view.el, zip())
    await settle()
    byTestId(view.el, 'chatgpt-start')!.click()
    await settle()
    expect(byTestId(view.el, 'chatgpt-error')?.textContent).toContain(words)
  })
})
