/**
 * Languages: every UI string lives in locales/{ko,en}.json (same keys in both, a test checks).
 * The first visit follows the browser (Korean browsers get Korean, everyone else English);
 * an explicit choice is remembered in localStorage. Only this preference is stored there —
 * never a token.
 */
import { createI18n } from 'vue-i18n'

import en from '@/locales/en.json'
import ko from '@/locales/ko.json'

export const LOCALES = ['ko', 'en'] as const
export type Locale = (typeof LOCALES)[number]

/** Not a secret: the user's language choice. */
export const LANG_STORAGE_KEY = 'daehwa.lang'

type MessageSchema = typeof en

function isLocale(value: unknown): value is Locale {
  return typeof value === 'string' && (LOCALES as readonly string[]).includes(value)
}

function storedLocale(): Locale | null {
  try {
    const value = localStorage.getItem(LANG_STORAGE_KEY)
    return isLocale(value) ? value : null
  } catch {
    return null // storage disabled (private mode, strict settings)
  }
}

/** The saved choice, else `ko` for a Korean browser (`ko`, `ko-KR`…), else `en`. */
export function initialLocale(browserLanguage: string = navigator.language): Locale {
  return storedLocale() ?? (/^ko\b/i.test(browserLanguage) ? 'ko' : 'en')
}

export const i18n = createI18n<[MessageSchema], Locale, false>({
  legacy: false,
  locale: initialLocale(),
  fallbackLocale: 'en',
  messages: { en, ko },
})

/** Switches the UI language and remembers it (App.vue mirrors it into `<html lang>`). */
export function setLocale(locale: Locale): void {
  i18n.global.locale.value = locale
  try {
    localStorage.setItem(LANG_STORAGE_KEY, locale)
  } catch {
    // storage disabled: the choice lasts for this page only
  }
}
