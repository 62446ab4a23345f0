import { useI18n } from 'vue-i18n'

import type { ApiError } from '@/api/http'
import {
  errorMessage,
  fieldText,
  providerProblem,
  storedErrorText,
  type ProviderProblem,
  type Translator,
} from '@/lib/errors'

/**
 * An ApiError → a sentence in the user's language (lib/errors.ts): the code's text, the wait
 * in words, a 422's fields. Called as `errorText(error)`; `errorText.field(error, 'username')`
 * is one field's problem for the message under that field, `errorText.provider(raw)` a
 * connection test's failure, `errorText.stored(text)` an answer's stored error.
 */
export function useErrorText() {
  const { t, te, locale } = useI18n()
  const tr: Translator = {
    t: (key, params) => t(key, params ?? {}),
    te: (key) => te(key),
    get locale() {
      return locale.value
    },
  }
  const text = (error: ApiError | null | undefined): string =>
    error ? errorMessage(error, tr) : ''
  return Object.assign(text, {
    field: (error: ApiError | null | undefined, name: string): string | undefined =>
      fieldText(error, name, tr),
    provider: (raw: string | null | undefined): ProviderProblem => providerProblem(raw, tr),
    stored: (raw: string | null | undefined): string => storedErrorText(raw, tr),
  })
}
