import type { ApiError } from '@/api/http'
import { i18n } from '@/i18n'
import { codeText, waitSeconds, type Translator } from '@/lib/errors'
import { formatDuration, formatIn } from '@/lib/format'

/** A send refused by the user's plan, as the chat shows it. */
export interface LimitNotice {
  /** `daily`: the day's message limit (429); `model`: a model outside the plan (403). */
  kind: 'daily' | 'model' | 'other'
  /** What happened, in the UI language (the server's English only for a code we do not know). */
  message: string
  /** When a retry may work, in words ("in 3 hours 10 minutes" / "3시간 10분 후"), when known. */
  retryAfter: string | null
}

/** vue-i18n's global instance as lib/errors.ts's Translator (read at each call: it follows the UI language). */
export function globalTranslator(): Translator {
  const global = i18n.global
  return {
    t: (key, params) => global.t(key, params ?? {}),
    te: (key) => global.te(key),
    get locale() {
      return global.locale.value
    },
  }
}

/** 7260 → "2 hours 1 minute" / "2시간 1분" in `locale` (the UI language by default). */
export function formatWait(seconds: number, locale = i18n.global.locale.value): string {
  return formatDuration(seconds, locale)
}

/**
 * A 429 of the plan's daily limit or a 403 on a send is the plan talking; anything else (a
 * 429 of too many attempts or a busy provider: the usual error text says when to retry) is
 * not a limit.
 */
export function limitNotice(
  error: ApiError | null | undefined,
  tr: Translator = globalTranslator(),
  now = Date.now(),
): LimitNotice | null {
  if (!error || (error.status !== 429 && error.status !== 403)) return null
  const code = error.code.toLowerCase()
  const daily = code === 'daily_limit_reached' || /daily|quota/.test(code)
  if (error.status === 429 && !daily) return null
  const kind = daily
    ? 'daily'
    : /model/.test(code) || /model/i.test(error.message)
      ? 'model'
      : 'other'
  const message =
    code === 'daily_limit_reached' && error.limit !== null
      ? tr.t('errors.dailyLimitOf', { limit: error.limit })
      : (codeText(code, tr) ?? error.message)
  const seconds = waitSeconds(error, now)
  return { kind, message, retryAfter: seconds === null ? null : formatIn(seconds, tr.locale) }
}
