import { defineStore } from 'pinia'
import { ref, watch } from 'vue'

import { toApiErrorValue, type ApiError } from '@/api/http'
import * as api from '@/api/settings'
import type { Plan, ServerSettings, Subscription, Theme } from '@/api/types'
import { i18n, setLocale, type Locale } from '@/i18n'

export type { Theme }

/**
 * The theme is also kept in localStorage, only so the first paint (before sign-in) has the
 * right colours; the server's value wins once loaded. Not a secret — never a token here.
 */
export const THEME_STORAGE_KEY = 'daehwa.theme'
/** Where older versions kept the default model and system prompt (moved to the server). */
export const LEGACY_SETTINGS_KEY = 'daehwa.settings'

const THEMES: Theme[] = ['light', 'dark', 'system']

function cachedTheme(): Theme {
  try {
    const value = localStorage.getItem(THEME_STORAGE_KEY) as Theme
    return THEMES.includes(value) ? value : 'system'
  } catch {
    return 'system'
  }
}

function cacheTheme(theme: Theme): void {
  try {
    localStorage.setItem(THEME_STORAGE_KEY, theme)
  } catch {
    // storage disabled: the server still has it
  }
}

/** What an older version left in localStorage (read once, then removed). */
function takeLegacy(): { default_model_id?: string; system_prompt?: string } {
  try {
    const raw = localStorage.getItem(LEGACY_SETTINGS_KEY)
    if (!raw) return {}
    localStorage.removeItem(LEGACY_SETTINGS_KEY)
    const parsed = JSON.parse(raw) as Record<string, unknown>
    return {
      ...(typeof parsed.default_model_id === 'string'
        ? { default_model_id: parsed.default_model_id }
        : {}),
      ...(typeof parsed.system_prompt === 'string' && parsed.system_prompt.trim()
        ? { system_prompt: parsed.system_prompt }
        : {}),
    }
  } catch {
    return {}
  }
}

/** Applies a theme to `<html>`: `data-theme` for CSS and the matching `color-scheme`. */
export function applyTheme(theme: Theme, root: HTMLElement = document.documentElement): void {
  if (theme === 'system') delete root.dataset.theme
  else root.dataset.theme = theme
  root.style.colorScheme = theme === 'system' ? 'light dark' : theme
}

/**
 * The user's settings, kept by the server (`/user/settings`) so they follow the user across
 * devices: theme, language, default model, system prompt, notifications; plus the plan
 * (read-only here). `load()` after sign-in; every change is saved at once.
 */
export const useSettingsStore = defineStore('settings', () => {
  const theme = ref<Theme>(cachedTheme())
  const language = ref<Locale>(i18n.global.locale.value as Locale)
  const defaultModelId = ref<string | null>(null)
  const systemPrompt = ref('')
  const notifyOnComplete = ref(false)
  const notifySound = ref(false)
  const subscription = ref<Subscription | null>(null)
  /** One of the user's groups makes every chat temporary (issue 21). */
  const temporaryForced = ref(false)
  /** Plans the user may switch to (self-service) and their current one. */
  const plans = ref<Plan[]>([])
  const loaded = ref(false)
  const error = ref<ApiError | null>(null)
  /**
   * Theme and language chosen here before `load()` (on the sign-in page, or while the settings
   * were still on their way): the next `load()` keeps them over the server's values and saves
   * them, so a click made during the load is not undone by it.
   */
  let pendingLocal: Pick<api.SettingsPatch, 'theme' | 'language'> = {}
  /** The account was just created here: keep the theme and language this browser shows. */
  function adoptLocalOnNextLoad(): void {
    pendingLocal = { theme: theme.value, language: language.value }
  }

  applyTheme(theme.value)
  watch(theme, (value) => {
    applyTheme(value)
    cacheTheme(value)
  })

  function apply(settings: ServerSettings): void {
    if (THEMES.includes(settings.theme)) theme.value = settings.theme
    if (settings.language === 'ko' || settings.language === 'en') {
      if (settings.language !== language.value) setLocale(settings.language)
      language.value = settings.language
    }
    defaultModelId.value = settings.default_model_id ?? null
    systemPrompt.value = settings.system_prompt ?? ''
    notifyOnComplete.value = Boolean(settings.notification?.on_complete)
    notifySound.value = Boolean(settings.notification?.sound)
    subscription.value = settings.subscription ?? null
    temporaryForced.value = settings.temporary_chats_forced === true
  }

  function snapshot(): api.SettingsPatch {
    return {
      theme: theme.value,
      language: language.value,
      default_model_id: defaultModelId.value,
      system_prompt: systemPrompt.value,
      notification: { on_complete: notifyOnComplete.value, sound: notifySound.value },
    }
  }

  function applyPatch(patch: api.SettingsPatch): void {
    if (patch.theme) theme.value = patch.theme
    if (patch.language) {
      setLocale(patch.language)
      language.value = patch.language
    }
    if (patch.default_model_id !== undefined) defaultModelId.value = patch.default_model_id
    if (patch.system_prompt !== undefined) systemPrompt.value = patch.system_prompt ?? ''
    if (patch.notification) {
      notifyOnComplete.value = patch.notification.on_complete
      notifySound.value = patch.notification.sound
    }
  }

  /** Reads the signed-in user's settings (and moves an older local copy to the server). */
  async function load(): Promise<void> {
    try {
      const settings = await api.getSettings()
      const local = pendingLocal
      pendingLocal = {}
      if (local.theme) settings.theme = local.theme
      if (local.language) settings.language = local.language
      apply(settings)
      loaded.value = true
      if (local.theme || local.language) await update(local).catch(() => undefined)
      error.value = null
      const legacy = takeLegacy()
      const missing: api.SettingsPatch = {}
      if (legacy.default_model_id && !settings.default_model_id)
        missing.default_model_id = legacy.default_model_id
      if (legacy.system_prompt && !settings.system_prompt)
        missing.system_prompt = legacy.system_prompt
      if (Object.keys(missing).length) await update(missing).catch(() => undefined)
    } catch (e) {
      error.value = toApiErrorValue(e)
    }
  }

  /**
   * Changes settings at once in the UI and saves them; when the server refuses, the previous
   * values come back and the error is thrown for the caller to show. Before `load()` (signed
   * out) only the local part (theme, language) changes.
   */
  async function update(patch: api.SettingsPatch): Promise<void> {
    const before = snapshot()
    applyPatch(patch)
    if (!loaded.value) {
      if (patch.theme) pendingLocal.theme = patch.theme
      if (patch.language) pendingLocal.language = patch.language
      return
    }
    try {
      apply(await api.putSettings(patch))
    } catch (e) {
      applyPatch(before)
      throw toApiErrorValue(e)
    }
  }

  async function loadPlans(): Promise<void> {
    try {
      plans.value = await api.listPublicPlans()
    } catch {
      plans.value = []
    }
  }

  /** Switches to a self-service plan; the server refuses any other (403). */
  async function switchPlan(planId: string): Promise<void> {
    subscription.value = await api.putSubscription(planId)
    await loadPlans()
  }

  const setTheme = (value: Theme) => update({ theme: value })
  const setLanguage = (value: Locale) => update({ language: value })
  const setDefaultModel = (id: string | null) => update({ default_model_id: id })
  const setSystemPrompt = (text: string) => update({ system_prompt: text })
  const setNotification = (on_complete: boolean, sound = notifySound.value) =>
    update({ notification: { on_complete, sound } })

  /** Signed out: forget the user's values (the theme and language stay for the login page). */
  function reset(): void {
    loaded.value = false
    defaultModelId.value = null
    systemPrompt.value = ''
    notifyOnComplete.value = false
    notifySound.value = false
    subscription.value = null
    temporaryForced.value = false
    plans.value = []
  }

  return {
    plans,
    loadPlans,
    switchPlan,
    theme,
    language,
    defaultModelId,
    systemPrompt,
    notifyOnComplete,
    notifySound,
    subscription,
    temporaryForced,
    loaded,
    error,
    load,
    update,
    setTheme,
    setLanguage,
    setDefaultModel,
    setSystemPrompt,
    setNotification,
    reset,
    adoptLocalOnNextLoad,
  }
})
