import { defineStore } from 'pinia'
import { ref, watch } from 'vue'

import { i18n, setLocale, type Locale } from '@/i18n'

export type Theme = 'light' | 'dark' | 'system'

/** The user's preferences. Not secrets: nothing here is a token. */
export interface UserSettings {
  theme: Theme
  default_model_id: string | null
  system_prompt: string
}

/** localStorage key of the preferences (the language has its own, see i18n.ts). */
export const SETTINGS_STORAGE_KEY = 'daehwa.settings'

const DEFAULTS: UserSettings = { theme: 'system', default_model_id: null, system_prompt: '' }

/**
 * Where the settings are kept. The one place to swap for `GET/PUT /user/settings` when the
 * server has them: `load()` and `save()` are the only readers and writers.
 */
const storage = {
  load(): UserSettings {
    try {
      const raw = localStorage.getItem(SETTINGS_STORAGE_KEY)
      const parsed = raw ? (JSON.parse(raw) as Partial<UserSettings>) : {}
      return {
        theme: ['light', 'dark', 'system'].includes(parsed.theme as string)
          ? (parsed.theme as Theme)
          : DEFAULTS.theme,
        default_model_id:
          typeof parsed.default_model_id === 'string' ? parsed.default_model_id : null,
        system_prompt: typeof parsed.system_prompt === 'string' ? parsed.system_prompt : '',
      }
    } catch {
      return { ...DEFAULTS }
    }
  },
  save(settings: UserSettings): void {
    try {
      localStorage.setItem(SETTINGS_STORAGE_KEY, JSON.stringify(settings))
    } catch {
      // storage disabled: the settings last for this page only
    }
  },
}

/** Applies a theme to `<html>`: `data-theme` for CSS and the matching `color-scheme`. */
export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  if (theme === 'system') delete root.dataset.theme
  else root.dataset.theme = theme
  root.style.colorScheme = theme === 'system' ? 'light dark' : theme
}

export const useSettingsStore = defineStore('settings', () => {
  const initial = storage.load()
  const theme = ref<Theme>(initial.theme)
  const defaultModelId = ref<string | null>(initial.default_model_id)
  const systemPrompt = ref(initial.system_prompt)
  const language = ref<Locale>(i18n.global.locale.value as Locale)

  applyTheme(theme.value)

  watch([theme, defaultModelId, systemPrompt], () => {
    applyTheme(theme.value)
    storage.save({
      theme: theme.value,
      default_model_id: defaultModelId.value,
      system_prompt: systemPrompt.value,
    })
  })

  function setLanguage(locale: Locale): void {
    setLocale(locale)
    language.value = locale
  }

  return { theme, defaultModelId, systemPrompt, language, setLanguage }
})
