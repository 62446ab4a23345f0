/**
 * Server errors in the user's language. The server answers `{error, code, fields?,
 * field_codes?, retry_after?}` with an English `error` for people and stable codes for us:
 * every code it sends has a sentence in locales (`errors.<code>`), every field code one per
 * field or a generic one (`errorFields.<field>.<code>`, `errorFields.any.<code>`), and waits
 * are said in words ("15분 후에 다시 시도하세요"). The server's English is shown only for a code
 * this list does not know yet.
 */
import type { ApiError } from '@/api/http'
import { formatIn, secondsUntil } from '@/lib/format'

/** What the translation needs of vue-i18n (`useI18n()` or `i18n.global`). */
export interface Translator {
  t: (key: string, params?: Record<string, unknown>) => string
  te: (key: string) => boolean
  locale: string
}

/** Every `code` the server's native API and its streams send (src/service/error.rs & co). */
export const SERVER_ERROR_CODES = [
  // service::Error
  'bad_request',
  'not_found',
  'conflict',
  'generation_in_progress',
  'validation_failed',
  'rate_limited',
  'daily_limit_reached',
  'payload_too_large',
  'unsupported_media_type',
  'upstream_timeout',
  'upstream_failed',
  'method_not_allowed',
  'request_timeout',
  'unavailable',
  'overloaded',
  'busy',
  'disk_full',
  'internal',
  // llm::LlmError (answers, streams, the gateway)
  'upstream_unreachable',
  'upstream_malformed',
  'upstream_unauthorized',
  'upstream_rate_limited',
  'upstream_error',
  'interrupted',
  // an answer cut by the engine
  'answer_too_long',
  'generation_timeout',
  // 401 / 403 with their own code
  'account_disabled',
  'admin_only',
  'api_key_required',
  'builtin_prompt',
  'cors_origin_not_allowed',
  'cross_site_request',
  'external_identity_missing',
  'external_token_rejected',
  'invalid_api_key',
  'invalid_credentials',
  'invalid_refresh_token',
  'invalid_signature',
  'invalid_token',
  'missing_external_token',
  'missing_refresh_token',
  'missing_signature',
  'model_disabled',
  'model_not_in_plan',
  'no_password',
  'pending_approval',
  'plan_not_self_service',
  'refresh_token_reused',
  'registration_closed',
  'replayed_request',
  'session_required',
  'stale_timestamp',
  'token_expired',
  'unauthenticated',
  'wrong_password',
  // issue 21: organize and govern
  'not_chatgpt_export',
  'import_in_progress',
  'temporary_chat',
  'model_not_allowed',
  'name_taken',
  // issue 22: directory sign-in
  'not_in_allowed_group',
  'directory_unavailable',
  'proxy_header_missing',
  'untrusted_proxy',
  'password_managed_elsewhere',
  'directory_refused',
] as const

/** The codes the web app makes up itself (api/http.ts, api/sse.ts, stores). */
export const CLIENT_ERROR_CODES = [
  'network_error',
  'stream_interrupted',
  'invalid_response',
  'unknown_error',
] as const

/** The per-field codes of a 422 (`field_codes`), plus `range` (ours, see fieldCodeOf). */
export const FIELD_CODES = [
  'required',
  'empty',
  'too_short',
  'too_long',
  'length',
  'range',
  'weak',
  'invalid_chars',
  'taken',
  'invalid',
  'too_many',
  'unknown',
] as const
export type FieldCode = (typeof FIELD_CODES)[number]

/** The field codes whose sentence says a number; without it, the `<code>_plain` sentence. */
const NUMBERED: Partial<Record<FieldCode, Array<'min' | 'max'>>> = {
  too_short: ['min'],
  too_long: ['max'],
  length: ['min', 'max'],
  range: ['min', 'max'],
  too_many: ['max'],
}

/** The fields that have sentences of their own (the rest use `errorFields.any`). */
export const FIELDS_WITH_OWN_TEXT: Record<string, FieldCode[]> = {
  username: ['required', 'empty', 'too_short', 'too_long', 'invalid_chars', 'taken'],
  password: ['required', 'empty', 'too_short', 'too_long', 'weak'],
  new_password: ['required', 'empty', 'too_short', 'too_long', 'weak'],
  display_name: ['empty', 'length', 'too_long', 'invalid_chars'],
  model_id: ['invalid', 'unknown'],
  base_url: ['invalid'],
}

/** Codes after which trying again later may work: their text says when. */
const RETRYABLE = new Set([
  'rate_limited',
  'daily_limit_reached',
  'upstream_rate_limited',
  'overloaded',
  'busy',
  'unavailable',
  'upstream_timeout',
])

/**
 * The code of a field's English message, the server's own rule (api/error.rs `field_code`)
 * for a server that does not send `field_codes` yet.
 */
export function guessFieldCode(message: string): FieldCode {
  const m = message.toLowerCase()
  if (m.includes('is required')) return 'required'
  if (m.includes('must not be empty') || m.includes('is empty')) return 'empty'
  if (m.includes('at least one letter')) return 'weak'
  if (m.includes('may only use') || m.includes('control characters')) return 'invalid_chars'
  if (m.includes('already taken')) return 'taken'
  if (m.startsWith('unknown')) return 'unknown'
  if (m.includes(' to ') && m.includes('characters')) return 'length'
  if (m.includes('at least') && m.includes('characters')) return 'too_short'
  if (m.includes('at most') && m.includes('characters')) return 'too_long'
  if (m.includes('at most')) return 'too_many'
  return 'invalid'
}

/** A field's code: the server's, else guessed; a plain `invalid` "between 1 and 30" is a range. */
export function fieldCodeOf(error: ApiError, field: string): string | null {
  const message = error.fields[field]
  const code = error.fieldCodes[field] ?? (message !== undefined ? guessFieldCode(message) : null)
  if (code === 'invalid' && message && /between -?\d+ and -?\d+/i.test(message)) return 'range'
  return code
}

/** The numbers a field's English message gives ("1 to 64 characters" → min 1, max 64). */
export function fieldNumbers(code: string, message = ''): { min?: number; max?: number } {
  const n = (pattern: RegExp) => {
    const match = pattern.exec(message)
    return match ? match.slice(1).map(Number) : null
  }
  switch (code) {
    case 'length': {
      const [min, max] = n(/(\d+) to (\d+)/) ?? []
      return { min, max }
    }
    case 'range': {
      const [min, max] = n(/between (-?\d+) and (-?\d+)/i) ?? []
      return { min, max }
    }
    case 'too_short':
      return { min: n(/at least (\d+)/i)?.[0] }
    case 'too_long':
      return { max: (n(/at most (\d+) characters/i) ?? n(/at most (\d+)/i))?.[0] }
    case 'too_many':
      return { max: n(/at most (\d+)/i)?.[0] }
    default:
      return {}
  }
}

/** The fields of a 422 in the order the server gave them (messages first, then codes only). */
export function errorFieldNames(error: ApiError): string[] {
  return [...new Set([...Object.keys(error.fields), ...Object.keys(error.fieldCodes)])]
}

/**
 * One field's problem in the user's language, or undefined when the field is fine. `labelled`:
 * a generic sentence gets the field's name in front ("Title: 1 to 200 characters.") for a
 * summary away from the field itself.
 */
export function fieldText(
  error: ApiError | null | undefined,
  field: string,
  tr: Translator,
  labelled = false,
): string | undefined {
  if (!error) return undefined
  const code = fieldCodeOf(error, field)
  if (!code) return undefined
  const message = error.fields[field] ?? ''
  const numbers = fieldNumbers(code, message)
  const needs = NUMBERED[code as FieldCode] ?? []
  const plain = needs.some((name) => numbers[name] === undefined) ? '_plain' : ''
  const own = `errorFields.${field}.${code}${plain}`
  if (tr.te(own)) return tr.t(own, numbers)
  const generic = `errorFields.any.${code}${plain}`
  if (!tr.te(generic)) return message || tr.t('errorFields.any.invalid')
  const text = tr.t(generic, numbers)
  if (!labelled) return text
  const label = `errorFields.names.${field}`
  return tr.t('errorFields.labelled', { field: tr.te(label) ? tr.t(label) : field, text })
}

/** Seconds to wait before a retry: `retry_after`, else until `resets_at`. */
export function waitSeconds(error: ApiError, now = Date.now()): number | null {
  if (error.retryAfter && error.retryAfter > 0) return error.retryAfter
  return secondsUntil(error.resetsAt, now)
}

/** "Try again in 15 minutes." / "15분 후에 다시 시도하세요." (or "in a moment"), or ''. */
export function retryText(error: ApiError, tr: Translator, now = Date.now()): string {
  const seconds = waitSeconds(error, now)
  if (seconds !== null) return tr.t('errors.retryIn', { when: formatIn(seconds, tr.locale) })
  return RETRYABLE.has(error.code) ? tr.t('errors.retrySoon') : ''
}

/** The sentence of a code alone (no fields, no wait), or null for a code we do not know. */
export function codeText(code: string, tr: Translator): string | null {
  const key = `errors.${code}`
  return tr.te(key) ? tr.t(key) : null
}

/**
 * An ApiError → what the user reads: the code's sentence, the wait in words when there is
 * one, and for a 422 each field's problem. The server's English only for an unknown code.
 */
export function errorMessage(error: ApiError, tr: Translator, now = Date.now()): string {
  let main: string
  if (error.code === 'daily_limit_reached' && error.limit !== null) {
    main = tr.t('errors.dailyLimitOf', { limit: error.limit })
  } else {
    main =
      codeText(error.code, tr) ??
      (error.status === 0
        ? tr.t('errors.network_error')
        : error.message || genericText(error.status, tr))
  }
  const parts = [main]
  if (error.code === 'validation_failed') {
    for (const field of errorFieldNames(error)) {
      const text = fieldText(error, field, tr, true)
      if (text) parts.push(text)
    }
  }
  const retry = retryText(error, tr, now)
  if (retry) parts.push(retry)
  return parts.join(' ')
}

/** For a code we do not know and no message: what its status class says. */
function genericText(status: number, tr: Translator): string {
  if (status >= 500) return tr.t('errors.internal')
  if (status === 401) return tr.t('errors.unauthenticated')
  if (status === 403) return tr.t('errors.forbidden')
  if (status === 404) return tr.t('errors.not_found')
  return tr.t('errors.unknown')
}

/** The code an answer's stored English error stands for (the engine's sentences), if known. */
export function storedErrorCode(text: string | null | undefined): string | null {
  if (!text) return null
  const m = text.toLowerCase()
  const rules: Array<[RegExp, string]> = [
    [/could not reach the (model's|llm) provider/, 'upstream_unreachable'],
    [/provider is receiving too many requests/, 'upstream_rate_limited'],
    [/provider refused this server's credentials/, 'upstream_unauthorized'],
    [/provider answered with an error|the llm provider answered \d+/, 'upstream_error'],
    [/provider did not answer in time/, 'upstream_timeout'],
    [/provider sent an answer that could not be read/, 'upstream_malformed'],
    [/^interrupted/, 'interrupted'],
    [/answer was cut at \d+ characters/, 'answer_too_long'],
    [/answer was cut after \d+ seconds/, 'generation_timeout'],
    [/disk is full/, 'disk_full'],
    [/still answering/, 'generation_in_progress'],
  ]
  return rules.find(([pattern]) => pattern.test(m))?.[1] ?? null
}

/** An answer's stored error (`message.error`) in the user's language; the English if unknown. */
export function storedErrorText(text: string | null | undefined, tr: Translator): string {
  const code = storedErrorCode(text)
  return (code && codeText(code, tr)) || text || tr.t('errors.unknown')
}

/** A provider failure of a connection test, in words, and what the provider said (admins). */
export interface ProviderProblem {
  text: string
  /** The provider's own detail (a host, "connection refused", its error body), or ''. */
  detail: string
}

/**
 * A connection test's `error` (the server's English `LlmError`, admins only) → a sentence in
 * the user's language that says what to check, with the provider's detail kept apart.
 */
export function providerProblem(raw: string | null | undefined, tr: Translator): ProviderProblem {
  const text = (raw ?? '').replace(/^could not list the provider's models:\s*/i, '')
  const after = (pattern: RegExp) => text.replace(pattern, '').trim()
  let match: RegExpExecArray | null
  if (/^could not reach the llm provider/i.test(text)) {
    return { text: tr.t('providerErrors.unreachable'), detail: after(/^[^:]*:?/) }
  }
  if ((match = /^the llm provider answered (\d{3}):?\s*(.*)$/is.exec(text))) {
    const status = Number(match[1])
    const key =
      status === 401 || status === 403
        ? 'providerErrors.credentials'
        : status === 404
          ? 'providerErrors.notFound'
          : status === 429
            ? 'providerErrors.rateLimited'
            : 'providerErrors.status'
    return { text: tr.t(key, { status }), detail: (match[2] ?? '').trim() }
  }
  if (/^the llm provider did not answer in time/i.test(text)) {
    return { text: tr.t('providerErrors.timeout'), detail: '' }
  }
  if (/^the llm provider sent an answer that could not be read/i.test(text)) {
    return { text: tr.t('providerErrors.malformed'), detail: after(/^[^:]*:?/) }
  }
  return { text: tr.t('providerErrors.other'), detail: text }
}
