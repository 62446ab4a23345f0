import type { ApiError } from '@/api/http'

/** A send refused by the user's plan, as the chat shows it. */
export interface LimitNotice {
  /** `daily`: the day's message limit (429); `model`: a model outside the plan (403). */
  kind: 'daily' | 'model' | 'other'
  /** The server's own sentence: it says which limit and when it resets. */
  message: string
  /** "in 3 h 20 min" from Retry-After, when the server gave one. */
  retryAfter: string | null
}

/** 7260 → "2 h 1 min", 90 → "2 min", 20 → "20 s". */
export function formatWait(seconds: number): string {
  if (seconds < 60) return `${Math.ceil(seconds)} s`
  const minutes = Math.ceil(seconds / 60)
  if (minutes < 60) return `${minutes} min`
  const hours = Math.floor(minutes / 60)
  const rest = minutes % 60
  return rest ? `${hours} h ${rest} min` : `${hours} h`
}

/** A 429 or 403 on a send is the plan talking; anything else is not a limit. */
export function limitNotice(error: ApiError | null | undefined): LimitNotice | null {
  if (!error || (error.status !== 429 && error.status !== 403)) return null
  const code = error.code.toLowerCase()
  const kind =
    error.status === 429 || /limit|quota/.test(code)
      ? 'daily'
      : /model/.test(code) || /model/i.test(error.message)
        ? 'model'
        : 'other'
  return {
    kind,
    message: error.message,
    retryAfter: error.retryAfter ? formatWait(error.retryAfter) : null,
  }
}
