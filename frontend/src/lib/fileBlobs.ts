/**
 * Blob URLs of files fetched with the access token (issue 20): an `<img src>` cannot send the
 * `Authorization` header, and a token never goes into a URL. One fetch per path, shared by
 * every image that shows it; counted, and revoked a little after the last user lets go (a
 * thread re-rendered — the placeholder question replaced by the saved one — finds it again).
 */
import { fetchBlob } from '@/api/files'

interface Entry {
  users: number
  url: Promise<string>
  /** The URL once loaded (to revoke). */
  loaded: string | null
  timer: ReturnType<typeof setTimeout> | null
}

const cache = new Map<string, Entry>()

/** How long an unused blob URL is kept before it is revoked. */
export const KEEP_MS = 10_000

export type BlobLoader = (path: string) => Promise<Blob>

/** A blob URL of `path`'s bytes (fetched once while in use). Pair with `releaseBlobUrl`. */
export function acquireBlobUrl(path: string, load: BlobLoader = fetchBlob): Promise<string> {
  let entry = cache.get(path)
  if (!entry) {
    const created: Entry = { users: 0, url: Promise.resolve(''), loaded: null, timer: null }
    created.url = load(path).then(
      (blob) => {
        const url = URL.createObjectURL(blob)
        created.loaded = url
        if (cache.get(path) !== created) URL.revokeObjectURL(url) // dropped meanwhile
        return url
      },
      (error: unknown) => {
        if (cache.get(path) === created) cache.delete(path) // the next user tries again
        throw error
      },
    )
    cache.set(path, created)
    entry = created
  }
  if (entry.timer) {
    clearTimeout(entry.timer)
    entry.timer = null
  }
  entry.users += 1
  return entry.url
}

/** One user of `path`'s blob URL is done with it; the last one schedules its revocation. */
export function releaseBlobUrl(path: string): void {
  const entry = cache.get(path)
  if (!entry) return
  entry.users = Math.max(0, entry.users - 1)
  if (entry.users > 0 || entry.timer) return
  entry.timer = setTimeout(() => {
    if (cache.get(path) !== entry || entry.users > 0) return
    cache.delete(path)
    if (entry.loaded) URL.revokeObjectURL(entry.loaded)
  }, KEEP_MS)
}

/** How many paths are held (for tests). */
export function cachedBlobCount(): number {
  return cache.size
}
