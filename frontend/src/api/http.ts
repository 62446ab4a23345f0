/**
 * The only fetch wrapper: every call to the server goes through here, so URLs, headers, the
 * access token and errors are handled in one place. Components never call fetch; api/*.ts do.
 *
 * The access token lives in this module's memory only — never in localStorage or
 * sessionStorage (an XSS could read those). A reload loses it; the httpOnly refresh cookie
 * (`daehwa_refresh`, scoped to `api/v1/auth`) brings it back through `refreshSession()`.
 *
 * A 401 `token_expired` / `invalid_token` / `unauthenticated` on a protected call triggers ONE
 * refresh, whatever the number of requests that hit it at the same time: they all wait on the
 * same promise and are then retried once with the new token. Requests sent while a refresh is
 * running wait for it first instead of collecting a certain 401. If the refresh fails, every
 * waiting request fails with the original 401 and the session ends (`onSignedOut`). This is
 * seed 001's Axios interceptor done right: its queue never rejected on failure, retried with a
 * stale header, and kept the tokens in localStorage.
 */
import { basePath } from '@/base'

/** What some errors carry besides their message (SPEC §2's error body). */
export interface ApiErrorDetails {
  /** Per-field codes of a 422 (`too_short`, `invalid_chars`…), what the web app translates. */
  fieldCodes?: Record<string, string>
  /** A plan's limit that was reached (429 `daily_limit_reached`). */
  limit?: number | null
  /** When a plan's limit resets (RFC 3339). */
  resetsAt?: string | null
}

/** An error from the server's `{"error": "...", "code": "..."}` body, or a stand-in for it. */
export class ApiError extends Error {
  /** HTTP status; 0 when the server could not be reached at all. */
  readonly status: number
  /** Machine-readable code from the server (`not_found`, …) or one of ours (`network_error`). */
  readonly code: string
  /** Per-field messages of a 422 `validation_failed` (the server's English). */
  readonly fields: Record<string, string>
  /** Per-field codes of a 422 (`field_codes`), when the server sends them. */
  readonly fieldCodes: Record<string, string>
  /** Seconds to wait before a retry (the body's `retry_after` or `Retry-After`), when given. */
  readonly retryAfter: number | null
  /** A plan's limit that was reached, when the server says it. */
  readonly limit: number | null
  /** When a plan's limit resets (RFC 3339), when the server says it. */
  readonly resetsAt: string | null

  constructor(
    status: number,
    code: string,
    message: string,
    fields: Record<string, string> = {},
    retryAfter: number | null = null,
    details: ApiErrorDetails = {},
  ) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
    this.fields = fields
    this.retryAfter = retryAfter
    this.fieldCodes = details.fieldCodes ?? {}
    this.limit = details.limit ?? null
    this.resetsAt = details.resetsAt ?? null
  }
}

/** Anything thrown → an ApiError (keeps ApiErrors, wraps the rest). */
export function toApiErrorValue(e: unknown): ApiError {
  if (e instanceof ApiError) return e
  return new ApiError(0, 'unknown_error', e instanceof Error ? e.message : String(e))
}

/** `api/v1/health` → `/api/v1/health`, or `/chat/api/v1/health` under a base path. */
export function apiUrl(path: string): string {
  return basePath() + path.replace(/^\/+/, '')
}

/** What `POST auth/login` and `POST auth/refresh` answer. */
export interface TokenResponse {
  access_token: string
  token_type: string
  expires_in: number
  user: unknown
}

interface AuthHooks {
  /** A refresh brought a new token (and the user it belongs to). */
  onRefreshed?: (response: TokenResponse) => void
  /** The refresh cookie was refused: the session is over. */
  onSignedOut?: (error: ApiError) => void
}

/** Listeners told whenever the server answers (see `onServerReachable`). */
const reachableListeners = new Set<() => void>()

/**
 * Calls `listener` each time a response arrives from the server (any status): after a network
 * error, the first answer says the server can be reached again, so "cannot be reached"
 * messages can go. Answers the function that removes the listener.
 */
export function onServerReachable(listener: () => void): () => void {
  reachableListeners.add(listener)
  return () => reachableListeners.delete(listener)
}

function serverReached(): void {
  for (const listener of reachableListeners) {
    try {
      listener()
    } catch {
      // A listener's failure is its own; the request goes on.
    }
  }
}

let accessToken: string | null = null
let refreshing: Promise<string> | null = null
let hooks: AuthHooks = {}

/** The auth store registers here (no import cycle: http.ts knows no store). */
export function setAuthHooks(next: AuthHooks): void {
  hooks = next
}

export function setAccessToken(token: string | null): void {
  accessToken = token
}

export function getAccessToken(): string | null {
  return accessToken
}

/** 401 codes after which a refresh may help. */
const REFRESHABLE = new Set(['token_expired', 'invalid_token', 'unauthenticated'])

/** Paths that must never trigger a refresh (they ARE the session calls). */
function isAuthPath(path: string): boolean {
  return /^\/?api\/v1\/auth\/(login|register|refresh|logout|ldap\/login|proxy)\b/.test(path)
}

/**
 * Asks for a new access token with the refresh cookie. At most one runs at a time: callers
 * that arrive while one is running share its result.
 */
export function refreshSession(): Promise<string> {
  if (!refreshing) {
    refreshing = (async () => {
      try {
        const response = await rawFetch('POST', 'api/v1/auth/refresh', {}, null)
        if (!response.ok) throw await readError(response)
        const body = (await response.json()) as TokenResponse
        accessToken = body.access_token
        hooks.onRefreshed?.(body)
        return body.access_token
      } catch (e) {
        const error = toApiErrorValue(e)
        // Only a refusal ends the session; a network blip keeps it for the next try.
        if (error.status === 401 || error.status === 403) {
          accessToken = null
          hooks.onSignedOut?.(error)
        }
        throw error
      } finally {
        refreshing = null
      }
    })()
  }
  return refreshing
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface RequestOptions {
  body?: unknown
  signal?: AbortSignal
  /** Extra headers (e.g. `Accept: text/event-stream`, `Last-Event-ID`). */
  headers?: Record<string, string>
  /** A multipart body (file uploads); the browser sets its Content-Type with the boundary. */
  form?: FormData
}

function rawFetch(
  method: Method,
  path: string,
  options: RequestOptions,
  token: string | null,
): Promise<Response> {
  const headers: Record<string, string> = { Accept: 'application/json', ...options.headers }
  if (token) headers.Authorization = `Bearer ${token}`
  const init: RequestInit = {
    method,
    headers,
    signal: options.signal,
    credentials: 'same-origin',
  }
  if (options.form) {
    init.body = options.form
  } else if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    init.body = JSON.stringify(options.body)
  }
  return fetch(apiUrl(path), init).then(
    (response) => {
      serverReached()
      return response
    },
    (cause: unknown) => {
      if (cause instanceof DOMException && cause.name === 'AbortError') throw cause
      throw new ApiError(0, 'network_error', errorText(cause, 'The server could not be reached.'))
    },
  )
}

/**
 * Sends an authorized request and answers the raw Response when it is OK (2xx). Handles the
 * refresh-once-and-retry; any other failure is thrown as an ApiError. `api/sse.ts` reads the
 * stream of the Response; `request` below reads JSON.
 */
export async function authorizedFetch(
  method: Method,
  path: string,
  options: RequestOptions = {},
): Promise<Response> {
  // A refresh is running: wait for it rather than send a token we know is stale.
  if (refreshing && !isAuthPath(path)) await refreshing.catch(() => undefined)

  const sentWith = accessToken
  let response = await rawFetch(method, path, options, sentWith)
  if (response.status === 401 && !isAuthPath(path)) {
    const error = await readError(response)
    if (!REFRESHABLE.has(error.code)) throw error
    let token: string
    try {
      // Someone else already refreshed after we sent: just use the new token.
      token = accessToken && accessToken !== sentWith ? accessToken : await refreshSession()
    } catch {
      throw error
    }
    response = await rawFetch(method, path, options, token)
  }
  if (!response.ok) throw await readError(response)
  return response
}

/** Sends a JSON request under the base path and returns the parsed JSON answer. */
export async function request<T>(
  method: Method,
  path: string,
  options: RequestOptions = {},
): Promise<T> {
  const response = await authorizedFetch(method, path, options)
  if (response.status === 204) return undefined as T
  const text = await response.text()
  if (text === '') return undefined as T
  try {
    return JSON.parse(text) as T
  } catch {
    throw new ApiError(response.status, 'invalid_response', 'The server sent an invalid answer.')
  }
}

/** Reads the server's error body into an ApiError (any body shape is survived). */
export async function readError(response: Response): Promise<ApiError> {
  const fallback = `${response.status} ${response.statusText}`.trim()
  const retry = Number(response.headers.get('Retry-After'))
  const retryAfter = Number.isFinite(retry) && retry > 0 ? retry : null
  let body: unknown
  try {
    body = await response.json()
  } catch {
    // Not JSON: a proxy's HTML error page, an empty body… keep the status line.
    return new ApiError(response.status, `http_${response.status}`, fallback, {}, retryAfter)
  }
  const record = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>
  const { error, code, limit } = record
  const bodyRetry = Number(record.retry_after)
  return new ApiError(
    response.status,
    typeof code === 'string' ? code : `http_${response.status}`,
    typeof error === 'string' ? error : fallback,
    stringsOf(record.fields),
    Number.isFinite(bodyRetry) && bodyRetry > 0 ? bodyRetry : retryAfter,
    {
      fieldCodes: stringsOf(record.field_codes),
      limit: typeof limit === 'number' ? limit : null,
      resetsAt: typeof record.resets_at === 'string' ? record.resets_at : null,
    },
  )
}

/** The string values of a `{key: string}` object of an error body (anything else is skipped). */
function stringsOf(value: unknown): Record<string, string> {
  const out: Record<string, string> = {}
  if (value && typeof value === 'object') {
    for (const [key, item] of Object.entries(value)) {
      if (typeof item === 'string') out[key] = item
    }
  }
  return out
}

function errorText(cause: unknown, fallback: string): string {
  return cause instanceof Error && cause.message ? cause.message : fallback
}

export const http = {
  get: <T>(path: string, options?: Omit<RequestOptions, 'body'>) =>
    request<T>('GET', path, options),
  post: <T>(path: string, body?: unknown, options?: RequestOptions) =>
    request<T>('POST', path, { ...options, body }),
  put: <T>(path: string, body?: unknown, options?: RequestOptions) =>
    request<T>('PUT', path, { ...options, body }),
  patch: <T>(path: string, body?: unknown, options?: RequestOptions) =>
    request<T>('PATCH', path, { ...options, body }),
  delete: <T>(path: string, options?: Omit<RequestOptions, 'body'>) =>
    request<T>('DELETE', path, options),
  /** POST of a multipart form (file upload). */
  upload: <T>(path: string, form: FormData) => request<T>('POST', path, { form }),
  /** GET of a text body (an export file), with the same auth handling. */
  text: async (path: string): Promise<string> =>
    (await authorizedFetch('GET', path, { headers: { Accept: '*/*' } })).text(),
}

/**
 * The array of a list answer: `body[key]`, else the first array in the body (the server's
 * list key differs between resources), else `[]`.
 */
export function listOf<T>(body: unknown, key: string): T[] {
  if (Array.isArray(body)) return body as T[]
  if (!body || typeof body !== 'object') return []
  const record = body as Record<string, unknown>
  if (Array.isArray(record[key])) return record[key] as T[]
  const first = Object.values(record).find(Array.isArray)
  return (first as T[] | undefined) ?? []
}

/** The `next_cursor` of a list answer (null when absent). */
export function cursorOf(body: unknown): string | null {
  const value = (body as { next_cursor?: unknown } | null)?.next_cursor
  return typeof value === 'string' && value ? value : null
}

/** Builds `?a=1&b=2` from the defined values only. */
export function query(
  params: Record<string, string | number | boolean | null | undefined>,
): string {
  const search = new URLSearchParams()
  for (const [key, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(key, String(value))
  }
  const text = search.toString()
  return text ? `?${text}` : ''
}
