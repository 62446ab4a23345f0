import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'

import { ApiError } from '@/api/http'
import type { StoredFile } from '@/api/types'
import { i18n } from '@/i18n'
import { settle } from '@/testing/mount'

import { useAttachments, type AttachmentDeps } from './useAttachments'

const MiB = 1024 * 1024

function stored(name: string, over: Partial<StoredFile> = {}): StoredFile {
  return {
    id: `id-${name}`,
    name,
    size: 10,
    mime: name.endsWith('.png') ? 'image/png' : 'application/pdf',
    kind: name.endsWith('.png') ? 'image' : 'document',
    width: null,
    height: null,
    text_chars: 0,
    extract_error: null,
    created_at: '2026-12-04T10:00:00Z',
    ...over,
  }
}

const file = (name: string, size = 10, type = 'application/pdf') =>
  new File([new Uint8Array(size)], name, { type })

/** An upload that waits for the test to finish it. */
function manualUploads() {
  const pending: {
    file: File
    progress: (fraction: number) => void
    resolve: (value: StoredFile) => void
    reject: (error: unknown) => void
    signal: AbortSignal
  }[] = []
  const upload: AttachmentDeps['upload'] = (f, { onProgress, signal }) =>
    new Promise((resolve, reject) => {
      pending.push({ file: f, progress: onProgress, resolve, reject, signal })
      signal.addEventListener('abort', () =>
        reject(new DOMException('The upload was cancelled.', 'AbortError')),
      )
    })
  return { pending, upload }
}

function setup(over: Partial<AttachmentDeps> = {}) {
  const uploads = manualUploads()
  const removed: string[] = []
  const revoked: string[] = []
  const attachments = useAttachments({
    upload: uploads.upload,
    remove: async (id) => void removed.push(id),
    maxFileBytes: async () => 20 * MiB,
    createUrl: (blob) => `blob:${(blob as File).name}`,
    revokeUrl: (url) => void revoked.push(url),
    ...over,
  })
  return { attachments, uploads, removed, revoked }
}

describe('useAttachments', () => {
  beforeEach(() => {
    i18n.global.locale.value = 'en'
  })
  afterEach(() => vi.restoreAllMocks())

  it('uploads each file at once, with its progress; Send waits until all are done', async () => {
    const { attachments, uploads } = setup()
    attachments.add([file('a.pdf'), file('b.png', 10, 'image/png')])
    await settle()
    expect(uploads.pending.map((p) => p.file.name)).toEqual(['a.pdf', 'b.png'])
    expect(attachments.uploading.value).toBe(true)
    expect(attachments.items.value.map((i) => i.kind)).toEqual(['document', 'image'])
    expect(attachments.items.value[1]?.localUrl).toBe('blob:b.png')

    uploads.pending[0]?.progress(0.5)
    expect(attachments.items.value[0]?.progress).toBe(0.5)

    // The second finishes first: `file_ids` still follow the order of the chips.
    uploads.pending[1]?.resolve(stored('b.png'))
    await settle()
    expect(attachments.uploading.value).toBe(true)
    uploads.pending[0]?.resolve(stored('a.pdf'))
    await settle()
    expect(attachments.uploading.value).toBe(false)
    expect(attachments.items.value.map((i) => i.status)).toEqual(['done', 'done'])
    expect(attachments.fileIds.value).toEqual(['id-a.pdf', 'id-b.png'])
    expect(attachments.hasImages.value).toBe(true)
  })

  it('refuses a file over max_file_bytes before uploading it', async () => {
    const { attachments, uploads } = setup({ maxFileBytes: async () => 2 * MiB })
    attachments.add([file('big.pdf', 3 * MiB), file('small.pdf', 100)])
    await settle()
    expect(uploads.pending.map((p) => p.file.name)).toEqual(['small.pdf'])
    const [big] = attachments.items.value
    expect(big?.status).toBe('error')
    expect(big?.errorCode).toBe('file_too_large')
    expect(big?.error).toBe('big.pdf is 3 MiB, more than the 2 MiB limit per file.')
    // A refused chip does not hold Send back.
    uploads.pending[0]?.resolve(stored('small.pdf'))
    await settle()
    expect(attachments.uploading.value).toBe(false)
    expect(attachments.fileIds.value).toEqual(['id-small.pdf'])
  })

  it('shows the server’s sentence of a 413 or 415', async () => {
    const { attachments, uploads } = setup()
    attachments.add([file('huge.pdf'), file('x.exe', 10, 'application/octet-stream')])
    await settle()
    uploads.pending[0]?.reject(
      new ApiError(413, 'quota_exceeded', 'Your files would pass your 1 GiB quota.'),
    )
    uploads.pending[1]?.reject(
      new ApiError(415, 'unsupported_type', 'This type of file cannot be read.'),
    )
    await settle()
    expect(attachments.items.value.map((i) => [i.status, i.errorCode, i.error])).toEqual([
      ['error', 'quota_exceeded', 'Your files would pass your 1 GiB quota.'],
      ['error', 'unsupported_type', 'This type of file cannot be read.'],
    ])
    expect(attachments.fileIds.value).toEqual([])
  })

  it('removing an uploaded file deletes it on the server; an upload in flight is stopped', async () => {
    const { attachments, uploads, removed, revoked } = setup()
    attachments.add([file('a.png', 10, 'image/png'), file('b.pdf')])
    await settle()
    uploads.pending[0]?.resolve(stored('a.png'))
    await settle()
    const [a, b] = attachments.items.value
    await attachments.remove(a!.key)
    expect(removed).toEqual(['id-a.png'])
    expect(revoked).toEqual(['blob:a.png'])
    await attachments.remove(b!.key)
    expect(uploads.pending[1]?.signal.aborted).toBe(true)
    expect(removed).toEqual(['id-a.png']) // nothing stored yet, nothing to delete
    expect(attachments.items.value).toEqual([])
    expect(attachments.uploading.value).toBe(false)
  })

  it('takes at most 20 files and says how many were left out', async () => {
    const { attachments } = setup()
    attachments.add(Array.from({ length: 18 }, (_, i) => file(`f${i}.pdf`)))
    attachments.add([file('x.pdf'), file('y.pdf'), file('z.pdf')])
    expect(attachments.items.value).toHaveLength(20)
    expect(attachments.notice.value).toBe('At most 20 files go with one message: 1 not added.')
  })

  it('take() empties the box and restore() brings the files back', async () => {
    const { attachments, uploads } = setup()
    attachments.add([file('a.pdf'), file('b.pdf')])
    await settle()
    uploads.pending[0]?.resolve(stored('a.pdf'))
    uploads.pending[1]?.reject(new ApiError(415, 'unsupported_type', 'No.'))
    await settle()
    const taken = attachments.take()
    expect(taken.map((i) => i.name)).toEqual(['a.pdf'])
    expect(attachments.items.value).toEqual([])
    attachments.restore(taken)
    expect(attachments.fileIds.value).toEqual(['id-a.pdf'])
  })

  it('a document whose text could not be read is kept, with the server’s sentence', async () => {
    const { attachments, uploads } = setup()
    attachments.add([file('secret.pdf')])
    await settle()
    uploads.pending[0]?.resolve(
      stored('secret.pdf', { extract_error: 'This PDF is encrypted; its text cannot be read.' }),
    )
    await settle()
    const [item] = attachments.items.value
    expect(item?.status).toBe('done')
    expect(item?.file?.extract_error).toBe('This PDF is encrypted; its text cannot be read.')
    expect(attachments.fileIds.value).toEqual(['id-secret.pdf'])
  })

  it('without a known limit, the server decides', async () => {
    const { attachments, uploads } = setup({
      maxFileBytes: async () => {
        throw new Error('offline')
      },
    })
    attachments.add([file('big.pdf', 3 * MiB)])
    await settle()
    expect(uploads.pending).toHaveLength(1)
  })
})
