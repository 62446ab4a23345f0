/**
 * Languages: every UI string lives in locales/{ko,en}.json, plus one pair of files per area in
 * locales/areas/<area>.{ko,en}.json merged over them (so areas of the app grow their own
 * strings without touching one shared file); ko and en have the same keys, a test checks.
 * The first visit follows the browser (Korean browsers get Korean, everyone else English);
 * an explicit choice is remembered in localStorage. Only this preference is stored there —
 * never a token.
 */
import { createI18n } from 'vue-i18n'

import baseEn from '@/locales/en.json'
import baseKo from '@/locales/ko.json'

export const LOCALES = ['ko', 'en'] as const
export type Locale = (typeof LOCALES)[number]

/** Not a secret: the user's language choice. */
export const LANG_STORAGE_KEY = 'daehwa.lang'

type Messages = { [key: string]: string | Messages }

/** `extra` merged into `base`, objects key by key (an area adds keys, never removes them). */
export function mergeMessages<T extends Messages>(base: T, extra: Messages): T {
  const out: Messages = { ...base }
  for (const [key, value] of Object.entries(extra)) {
    const current = out[key]
    out[key] =
      typeof value === 'object' && typeof current === 'object'
        ? mergeMessages(current, value)
        : value
  }
  return out as T
}

const areas = import.meta.glob<Messages>('./locales/areas/*.json', {
  eager: true,
  import: 'default',
})

/** The base file of `locale` with every area's file of that locale merged over it. */
export function localeMessages<T extends Messages>(base: T, locale: Locale): T {
  return Object.entries(areas)
    .filter(([path]) => path.endsWith(`.${locale}.json`))
    .sort(([a], [b]) => a.localeCompare(b))
    .reduce((merged, [, messages]) => mergeMessages(merged, messages), base)
}

const en = localeMessages(baseEn, 'en')
const ko = localeMessages(baseKo, 'ko')

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
