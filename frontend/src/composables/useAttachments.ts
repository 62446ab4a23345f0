/**
 * The files going with the next message (issue 20): each file uploads as soon as it is chosen
 * (before Send), with its progress, its error (the server's sentence: too large, unsupported,
 * quota…), and a remove button that deletes an uploaded, unsent file from the server. A file
 * larger than the server's `max_file_bytes` is refused before any byte is sent; at most
 * `MAX_FILES` files go with one message. No DOM needed: the API calls are injectable.
 */
import { computed, ref, shallowRef } from 'vue'

import * as filesApi from '@/api/files'
import { ApiError, toApiErrorValue } from '@/api/http'
import type { StoredFile } from '@/api/types'
import { i18n } from '@/i18n'
import { formatBytes } from '@/lib/collector'
import { isImageType, MAX_FILES } from '@/lib/files'

export type AttachmentStatus = 'uploading' | 'done' | 'error'

export interface Attachment {
  /** Local key (the server's id is `file.id` once uploaded). */
  key: string
  name: string
  size: number
  mime: string
  kind: 'image' | 'document'
  status: AttachmentStatus
  /** 0…1 while uploading. */
  progress: number
  /** The stored file, once uploaded. */
  file: StoredFile | null
  /** Why it is not attached: the server's sentence, or ours (too large before upload). */
  error: string | null
  errorCode: string | null
  /** A blob URL of the local bytes, for an image's thumbnail (revoked when it goes). */
  localUrl: string | null
}

export interface AttachmentDeps {
  upload: (
    file: File,
    options: { onProgress: (fraction: number) => void; signal: AbortSignal },
  ) => Promise<StoredFile>
  remove: (id: string) => Promise<unknown>
  /** The largest file the server takes (bytes), or null when unknown. */
  maxFileBytes: () => Promise<number | null>
  createUrl: (file: Blob) => string | null
  revokeUrl: (url: string) => void
}

const defaultDeps: AttachmentDeps = {
  upload: (file, options) => filesApi.uploadFile(file, options),
  remove: (id) => filesApi.deleteFile(id),
  maxFileBytes: async () => (await filesApi.getFileLimits()).max_file_bytes ?? null,
  createUrl: (file) =>
    typeof URL !== 'undefined' && typeof URL.createObjectURL === 'function'
      ? URL.createObjectURL(file)
      : null,
  revokeUrl: (url) => URL.revokeObjectURL(url),
}

const t = (key: string, params: Record<string, unknown> = {}) => i18n.global.t(key, params)

let counter = 0

export function useAttachments(overrides: Partial<AttachmentDeps> = {}) {
  const deps: AttachmentDeps = { ...defaultDeps, ...overrides }
  const items = ref<Attachment[]>([])
  /** A note about files that were not added (more than MAX_FILES). */
  const notice = ref<string | null>(null)
  const controllers = new Map<string, AbortController>()
  /** The server's limit, asked once (null: unknown, the server's 413 will say it). */
  const maxBytes = shallowRef<Promise<number | null> | null>(null)

  const uploading = computed(() => items.value.some((item) => item.status === 'uploading'))
  /** The uploaded files, in the order they were added: what Send sends (`file_ids`). */
  const ready = computed(() =>
    items.value.flatMap((item) => (item.status === 'done' && item.file ? [item.file] : [])),
  )
  const fileIds = computed(() => ready.value.map((file) => file.id))
  const hasImages = computed(() =>
    items.value.some((item) => item.status !== 'error' && item.kind === 'image'),
  )

  function limit(): Promise<number | null> {
    if (!maxBytes.value) {
      maxBytes.value = deps.maxFileBytes().catch(() => {
        maxBytes.value = null // ask again next time
        return null
      })
    }
    return maxBytes.value
  }

  function update(key: string, patch: Partial<Attachment>): void {
    const index = items.value.findIndex((item) => item.key === key)
    const current = items.value[index]
    if (current) items.value.splice(index, 1, { ...current, ...patch })
  }

  function fail(key: string, error: ApiError): void {
    update(key, { status: 'error', progress: 0, error: error.message, errorCode: error.code })
  }

  async function start(key: string, file: File): Promise<void> {
    const max = await limit()
    if (!items.value.some((item) => item.key === key)) return // removed meanwhile
    if (max !== null && file.size > max) {
      const message = t('files.tooLarge', {
        name: file.name,
        size: formatBytes(file.size),
        max: formatBytes(max),
      })
      fail(key, new ApiError(413, 'file_too_large', message))
      return
    }
    const controller = new AbortController()
    controllers.set(key, controller)
    try {
      const stored = await deps.upload(file, {
        onProgress: (fraction) => update(key, { progress: Math.min(1, Math.max(0, fraction)) }),
        signal: controller.signal,
      })
      if (!items.value.some((item) => item.key === key)) {
        // Removed while it was on its way: do not leave it on the server.
        void deps.remove(stored.id).catch(() => undefined)
        return
      }
      update(key, {
        status: 'done',
        progress: 1,
        file: stored,
        kind: stored.kind,
        name: stored.name || file.name,
        size: stored.size ?? file.size,
      })
    } catch (e) {
      if (e instanceof DOMException && e.name === 'AbortError') return
      fail(key, toApiErrorValue(e))
    } finally {
      controllers.delete(key)
    }
  }

  /** Adds files (a picker, a drop, a paste): each starts uploading at once. */
  function add(files: ArrayLike<File>): Attachment[] {
    const list = Array.from(files)
    const room = Math.max(0, MAX_FILES - items.value.length)
    const taken = list.slice(0, room)
    notice.value =
      list.length > room ? t('files.tooMany', { max: MAX_FILES, n: list.length - room }) : null
    const added = taken.map((file): Attachment => {
      const image = isImageType(file.type)
      return {
        key: `a${++counter}`,
        name: file.name || 'file',
        size: file.size,
        mime: file.type,
        kind: image ? 'image' : 'document',
        status: 'uploading',
        progress: 0,
        file: null,
        error: null,
        errorCode: null,
        localUrl: image ? deps.createUrl(file) : null,
      }
    })
    items.value.push(...added)
    added.forEach((item, index) => void start(item.key, taken[index] as File))
    return added
  }

  function drop(item: Attachment): void {
    if (item.localUrl) deps.revokeUrl(item.localUrl)
  }

  /** The × of a chip: stops its upload, or deletes the uploaded (unsent) file. */
  async function remove(key: string): Promise<void> {
    const item = items.value.find((i) => i.key === key)
    if (!item) return
    items.value = items.value.filter((i) => i.key !== key)
    notice.value = null
    controllers.get(key)?.abort()
    drop(item)
    if (item.status === 'done' && item.file) {
      try {
        await deps.remove(item.file.id)
      } catch {
        // Already gone, or in use (409): nothing to undo on the user's side.
      }
    }
  }

  /**
   * Send took the files: the box is empty again, the chips are handed over (to `restore`
   * if the question comes back). Failed chips go with them (their error is no use any more).
   */
  function take(): Attachment[] {
    const taken = items.value.filter((item) => item.status === 'done')
    for (const item of items.value) if (item.status !== 'done') drop(item)
    items.value = []
    notice.value = null
    return taken
  }

  /** A question that did not go through brings its files back (before anything added since). */
  function restore(taken: Attachment[]): void {
    const known = new Set(items.value.map((item) => item.file?.id))
    const back = taken.filter((item) => !known.has(item.file?.id))
    items.value = [...back, ...items.value].slice(0, MAX_FILES)
  }

  /** Frees what taken chips hold (their thumbnails' blob URLs) once they are not needed. */
  function release(taken: Attachment[]): void {
    taken.forEach(drop)
  }

  /** Leaves the box (another conversation): uploads stop, unsent files are deleted. */
  function clear(): void {
    for (const item of [...items.value]) void remove(item.key)
    notice.value = null
  }

  return {
    items,
    notice,
    uploading,
    ready,
    fileIds,
    hasImages,
    add,
    remove,
    take,
    restore,
    release,
    clear,
  }
}

export type Attachments = ReturnType<typeof useAttachments>
