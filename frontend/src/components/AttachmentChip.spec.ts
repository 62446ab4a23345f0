import { afterEach, describe, expect, it } from 'vitest'
import { defineComponent, h } from 'vue'

import type { Attachment } from '@/composables/useAttachments'

const { mountView, testUser } = await import('@/testing/mount')
const { default: AttachmentChip } = await import('./AttachmentChip.vue')

const chip = (over: Partial<Attachment>): Attachment => ({
  key: 'a1',
  name: 'report.pdf',
  size: 1536,
  mime: 'application/pdf',
  kind: 'document',
  status: 'done',
  progress: 1,
  file: null,
  error: null,
  errorCode: null,
  localUrl: null,
  ...over,
})

async function mount(item: Attachment, onRemove: () => void = () => undefined) {
  const Root = defineComponent({
    render: () => h('ul', [h(AttachmentChip, { item, onRemove })]),
  })
  return mountView(Root, '/settings', { user: testUser() })
}

describe('attachment chip', () => {
  let unmount = () => undefined as void
  afterEach(() => unmount())

  it('an image shows its thumbnail; × removes it', async () => {
    const removed: number[] = []
    const view = await mount(
      chip({ name: 'shot.png', mime: 'image/png', kind: 'image', localUrl: 'blob:local-1' }),
      () => removed.push(1),
    )
    unmount = view.unmount
    const el = view.el.querySelector('[data-testid="file-chip"]')
    expect(el?.getAttribute('data-kind')).toBe('image')
    const thumb = view.el.querySelector('[data-testid="file-chip-thumb"]')
    expect(thumb?.getAttribute('src')).toBe('blob:local-1')
    expect(thumb?.getAttribute('alt')).toBe('shot.png')
    const remove = view.el.querySelector<HTMLButtonElement>('[data-testid="file-chip-remove"]')
    expect(remove?.getAttribute('aria-label')).toBe('Remove shot.png')
    remove!.click()
    expect(removed).toEqual([1])
  })

  it('a document shows an icon, its name and size; an upload its progress', async () => {
    const view = await mount(chip({ status: 'uploading', progress: 0.42 }))
    unmount = view.unmount
    expect(view.el.querySelector('[data-testid="file-chip-thumb"]')).toBeNull()
    expect(view.el.textContent).toContain('report.pdf')
    expect(view.el.textContent).toContain('2 KiB')
    const bar = view.el.querySelector('[data-testid="file-chip-progress"]')
    expect(bar?.getAttribute('role')).toBe('progressbar')
    expect(bar?.getAttribute('aria-valuenow')).toBe('42')
    expect(bar?.getAttribute('aria-label')).toBe('Uploading report.pdf')
  })

  it('a refused file shows the server’s sentence', async () => {
    const view = await mount(
      chip({
        status: 'error',
        error: 'This type of file cannot be read.',
        errorCode: 'unsupported_type',
      }),
    )
    unmount = view.unmount
    const error = view.el.querySelector('[data-testid="file-chip-error"]')
    expect(error?.getAttribute('role')).toBe('alert')
    expect(error?.textContent).toContain('This type of file cannot be read.')
    expect(view.el.querySelector('[data-testid="file-chip-progress"]')).toBeNull()
  })

  it('a document whose text could not be read is kept, with a warning', async () => {
    const view = await mount(
      chip({
        file: {
          id: 'f1',
          name: 'secret.pdf',
          size: 1536,
          mime: 'application/pdf',
          kind: 'document',
          text_chars: 0,
          extract_error: 'This PDF is encrypted; its text cannot be read.',
          created_at: '2026-12-04T10:00:00Z',
        },
      }),
    )
    unmount = view.unmount
    const warning = view.el.querySelector('[data-testid="file-chip-warning"]')
    expect(warning?.textContent).toContain('Kept, but its text could not be read:')
    expect(warning?.textContent).toContain('This PDF is encrypted; its text cannot be read.')
    expect(view.el.querySelector('[data-testid="file-chip-error"]')).toBeNull()
  })
})
