import { useI18n } from 'vue-i18n'

import type { ApiError } from '@/api/http'

/**
 * An ApiError → a sentence for the user: our own translation when we know the code, else the
 * server's message (it is already human readable).
 */
export function useErrorText() {
  const { t, te } = useI18n()
  return (error: ApiError | null | undefined): string => {
    if (!error) return ''
    const key = `errors.${error.code}`
    if (te(key)) return t(key, { seconds: error.retryAfter ?? 60 })
    if (error.status === 0) return t('errors.network_error')
    return error.message || t('errors.unknown')
  }
}
