import { useI18n } from 'vue-i18n'

import { useToastStore } from '@/stores/toast'

/** Copies text and says so; falls back to a hidden textarea where the Clipboard API is off (plain http). */
export function useClipboard() {
  const { t } = useI18n()
  const toast = useToastStore()

  async function copy(text: string): Promise<boolean> {
    let ok = false
    try {
      if (navigator.clipboard && window.isSecureContext) {
        await navigator.clipboard.writeText(text)
        ok = true
      }
    } catch {
      ok = false
    }
    if (!ok) {
      const area = document.createElement('textarea')
      area.value = text
      area.setAttribute('readonly', '')
      area.style.position = 'fixed'
      area.style.opacity = '0'
      document.body.append(area)
      area.select()
      try {
        ok = document.execCommand('copy')
      } catch {
        ok = false
      }
      area.remove()
    }
    toast.show(ok ? t('common.copied') : t('common.copyFailed'), ok ? 'info' : 'error')
    return ok
  }

  return { copy }
}
