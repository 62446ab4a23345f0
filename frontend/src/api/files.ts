/**
 * Files in conversations (issue 20): `/api/v1/files`, and a shared snapshot's files.
 *
 * The upload goes through XMLHttpRequest, not fetch: only XHR reports upload progress. It
 * sends the same `Authorization` header as `http.ts` and, like it, refreshes the session once
 * on a 401 and retries. The bytes of a file (thumbnails, downloads) are fetched with the
 * token too and shown through blob URLs (lib/fileBlobs.ts): an `<img src>` cannot carry the
 * header, and the token never goes into a URL.
 */
import {
  ApiError,
  apiUrl,
  authorizedFetch,
  getAccessToken,
  http,
  readError,
  refreshSession,
} from '@/api/http'
import type { StoredFile, StoredFileList } from '@/api/types'

const path = (id: string, rest = '') => `api/v1/files/${encodeURIComponent(id)}${rest}`

/** `GET /files/{id}/preview` (images: the scaled copy sent to models; for thumbnails). */
export const previewPath = (id: string) => path(id, '/preview')
/** `GET /files/{id}`: the file's own bytes. */
export const contentPath = (id: string) => path(id)

/** A shared snapshot's file (no sign-in needed): a full URL an `<img>` or a link can use. */
export function sharedFileUrl(shareId: string, fileId: string, preview = false): string {
  return apiUrl(
    `api/v1/shares/${encodeURIComponent(shareId)}/files/${encodeURIComponent(fileId)}${
      preview ? '/preview' : ''
    }`,
  )
}

/** `GET /files?limit=1`: the caller's room (`max_file_bytes`, `quota_bytes`, `used_bytes`). */
export const getFileLimits = () => http.get<StoredFileList>('api/v1/files?limit=1')

/** `DELETE /files/{id}`: only while no message carries it (else 409 `file_in_use`). */
export const deleteFile = (id: string) => http.delete<void>(path(id))

/** The bytes of an authorized GET (a file, a preview, a ZIP export). */
export async function fetchBlob(apiPath: string, signal?: AbortSignal): Promise<Blob> {
  const response = await authorizedFetch('GET', apiPath, { signal, headers: { Accept: '*/*' } })
  return response.blob()
}

export interface UploadOptions {
  /** Called with 0…1 as the body goes out. */
  onProgress?: (fraction: number) => void
  signal?: AbortSignal
}

/** 401 codes after which a refresh may help (as in http.ts). */
const REFRESHABLE = new Set(['token_expired', 'invalid_token', 'unauthenticated'])

/** `POST /files` with one part `file`: the stored file, or an ApiError (413, 415, 422…). */
export function uploadFile(file: Blob & { name?: string }, options: UploadOptions = {}) {
  return uploadTo<StoredFile>('api/v1/files', file, options)
}

/** A multipart POST of one part `file` to `apiPath`, with progress: the JSON answer. */
export async function uploadTo<T>(
  apiPath: string,
  file: Blob & { name?: string },
  options: UploadOptions = {},
): Promise<T> {
  const sentWith = getAccessToken()
  try {
    return await sendUpload<T>(apiPath, file, options, sentWith)
  } catch (e) {
    if (!(e instanceof ApiError) || e.status !== 401 || !REFRESHABLE.has(e.code)) throw e
    let token: string
    try {
      const now = getAccessToken()
      token = now && now !== sentWith ? now : await refreshSession()
    } catch {
      throw e
    }
    options.onProgress?.(0)
    return sendUpload<T>(apiPath, file, options, token)
  }
}

function sendUpload<T>(
  apiPath: string,
  file: Blob & { name?: string },
  { onProgress, signal }: UploadOptions,
  token: string | null,
): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new DOMException('The upload was cancelled.', 'AbortError'))
      return
    }
    const xhr = new XMLHttpRequest()
    xhr.open('POST', apiUrl(apiPath))
    xhr.setRequestHeader('Accept', 'application/json')
    if (token) xhr.setRequestHeader('Authorization', `Bearer ${token}`)
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) onProgress?.(event.loaded / event.total)
    }
    const onAbort = () => xhr.abort()
    signal?.addEventListener('abort', onAbort, { once: true })
    const done = () => signal?.removeEventListener('abort', onAbort)
    xhr.onabort = () => {
      done()
      reject(new DOMException('The upload was cancelled.', 'AbortError'))
    }
    xhr.onerror = () => {
      done()
      reject(new ApiError(0, 'network_error', 'The server could not be reached.'))
    }
    xhr.onload = () => {
      done()
      void settleUpload<T>(xhr).then(resolve, reject)
    }
    const form = new FormData()
    form.append('file', file, file.name || 'file')
    xhr.send(form)
  })
}

/** The XHR's answer: its JSON (2xx) or the server's error body as an ApiError. */
async function settleUpload<T>(xhr: XMLHttpRequest): Promise<T> {
  const headers = new Headers()
  const retryAfter = xhr.getResponseHeader('Retry-After')
  if (retryAfter) headers.set('Retry-After', retryAfter)
  const status = xhr.status >= 200 && xhr.status <= 599 ? xhr.status : 500
  const response = new Response(status === 204 ? null : xhr.responseText, {
    status,
    statusText: xhr.statusText,
    headers,
  })
  if (!response.ok) throw await readError(response)
  try {
    return (await response.json()) as T
  } catch {
    throw new ApiError(status, 'invalid_response', 'The server sent an invalid answer.')
  }
}
