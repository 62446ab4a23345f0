/**
 * The only fetch wrapper: every call to the server goes through `request`, so URLs, headers
 * and errors are handled in one place. Components never call fetch; api/<resource>.ts do.
 */
import { basePath } from '@/base'

/** An error from the server's `{"error": "...", "code": "..."}` body, or a stand-in for it. */
export class ApiError extends Error {
  /** HTTP status; 0 when the server could not be reached at all. */
  readonly status: number
  /** Machine-readable code from the server (`not_found`, …) or one of ours (`network_error`). */
  readonly code: string

  constructor(status: number, code: string, message: string) {
    super(message)
    this.name = 'ApiError'
    this.status = status
    this.code = code
  }
}

/** `api/v1/health` → `/api/v1/health`, or `/chat/api/v1/health` under a base path. */
export function apiUrl(path: string): string {
  return basePath() + path.replace(/^\/+/, '')
}

/**
 * Headers that authenticate a request. Auth is not built yet: the access token (kept in
 * memory only, never in storage) will be added here as `Authorization: Bearer …`, together
 * with the refresh-once-and-retry on 401.
 */
function authorizationHeaders(): Record<string, string> {
  return {}
}

export type Method = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE'

export interface RequestOptions {
  body?: unknown
  signal?: AbortSignal
}

/** Sends a JSON request under the base path and returns the parsed JSON answer. */
export async function request<T>(
  method: Method,
  path: string,
  options: RequestOptions = {},
): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authorizationHeaders() }
  const init: RequestInit = { method, headers, signal: options.signal }
  if (options.body !== undefined) {
    headers['Content-Type'] = 'application/json'
    init.body = JSON.stringify(options.body)
  }

  let response: Response
  try {
    response = await fetch(apiUrl(path), init)
  } catch (cause) {
    if (cause instanceof DOMException && cause.name === 'AbortError') throw cause
    throw new ApiError(0, 'network_error', errorText(cause, 'The server could not be reached.'))
  }

  if (!response.ok) throw await toApiError(response)
  if (response.status === 204) return undefined as T

  try {
    return (await response.json()) as T
  } catch {
    throw new ApiError(response.status, 'invalid_response', 'The server sent an invalid answer.')
  }
}

async function toApiError(response: Response): Promise<ApiError> {
  const fallback = `${response.status} ${response.statusText}`.trim()
  let body: unknown
  try {
    body = await response.json()
  } catch {
    // Not JSON: a proxy's HTML error page, an empty body… keep the status line.
    return new ApiError(response.status, `http_${response.status}`, fallback)
  }
  const { error, code } = (body ?? {}) as { error?: unknown; code?: unknown }
  return new ApiError(
    response.status,
    typeof code === 'string' ? code : `http_${response.status}`,
    typeof error === 'string' ? error : fallback,
  )
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
}
