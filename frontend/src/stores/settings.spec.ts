import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { nextTick } from 'vue'

import type { ServerSettings } from '@/api/types'

vi.mock('@/api/settings', () => ({
  getSettings: vi.fn(),
  putSettings: vi.fn(),
}))

const api = await import('@/api/settings')
const { i18n } = await import('@/i18n')
const { LEGACY_SETTINGS_KEY, THEME_STORAGE_KEY, useSettingsStore } = await import('./settings')

function server(over: Partial<ServerSettings> = {}): ServerSettings {
  return {
    theme: 'system',
    language: 'en',
    default_model_id: null,
    system_prompt: '',
    notification: { on_complete: false, sound: false },
    subscription: { plan: 'free', daily_message_limit: 20, allowed_models: [], renews_at: null },
    ...over,
  }
}

describe('settings store', () => {
  beforeEach(() => {
    setActivePinia(createPinia())
    vi.clearAllMocks()
    i18n.global.locale.value = 'en'
  })
  afterEach(() => {
    localStorage.clear()
    delete document.documentElement.dataset.theme
  })

  it('takes theme, language, model and prompt from the server, and keeps only the theme locally', async () => {
    vi.mocked(api.getSettings).mockResolvedValue(
      server({
        theme: 'dark',
        language: 'ko',
        default_model_id: 'm2',
        system_prompt: '짧게 답해 주세요.',
        notification: { on_complete: true, sound: false },
      }),
    )
    const settings = useSettingsStore()
    expect(settings.theme).toBe('system')
    await settings.load()
    await nextTick()
    expect(settings.loaded).toBe(true)
    expect(document.documentElement.dataset.theme).toBe('dark')
    expect(i18n.global.locale.value).toBe('ko')
    expect(settings.defaultModelId).toBe('m2')
    expect(settings.systemPrompt).toBe('짧게 답해 주세요.')
    expect(settings.notifyOnComplete).toBe(true)
    expect(settings.subscription?.daily_message_limit).toBe(20)
    // Only the theme (for the first paint) and the language are in localStorage.
    const keys = Object.keys(localStorage)
    expect(keys.sort()).toEqual(['daehwa.lang', THEME_STORAGE_KEY].sort())
    expect(JSON.stringify(localStorage)).not.toContain('짧게')
  })

  it('saves a change by sending only what changed, and takes the server answer', async () => {
    vi.mocked(api.getSettings).mockResolvedValue(server())
    vi.mocked(api.putSettings).mockResolvedValue(server({ default_model_id: 'm3' }))
    const settings = useSettingsStore()
    await settings.load()
    await settings.setDefaultModel('m3')
    expect(api.putSettings).toHaveBeenCalledWith({ default_model_id: 'm3' })
    expect(settings.defaultModelId).toBe('m3')
  })

  it('puts the old value back and throws when the server refuses', async () => {
    vi.mocked(api.getSettings).mockResolvedValue(server({ system_prompt: 'old' }))
    const { ApiError } = await import('@/api/http')
    vi.mocked(api.putSettings).mockRejectedValue(
      new ApiError(422, 'validation_failed', 'system_prompt is too long'),
    )
    const settings = useSettingsStore()
    await settings.load()
    await expect(settings.setSystemPrompt('x'.repeat(10))).rejects.toMatchObject({ status: 422 })
    expect(settings.systemPrompt).toBe('old')
  })

  it('signed out, a theme change stays local (no server call)', async () => {
    const settings = useSettingsStore()
    await settings.setTheme('light')
    await nextTick()
    expect(api.putSettings).not.toHaveBeenCalled()
    expect(document.documentElement.dataset.theme).toBe('light')
    expect(localStorage.getItem(THEME_STORAGE_KEY)).toBe('light')
    setActivePinia(createPinia())
    expect(useSettingsStore().theme).toBe('light')
  })

  it('moves the default model and prompt an older version kept in localStorage to the server', async () => {
    localStorage.setItem(
      LEGACY_SETTINGS_KEY,
      JSON.stringify({ theme: 'dark', default_model_id: 'm1', system_prompt: 'Be brief.' }),
    )
    vi.mocked(api.getSettings).mockResolvedValue(server())
    vi.mocked(api.putSettings).mockResolvedValue(
      server({ default_model_id: 'm1', system_prompt: 'Be brief.' }),
    )
    const settings = useSettingsStore()
    await settings.load()
    expect(api.putSettings).toHaveBeenCalledWith({
      default_model_id: 'm1',
      system_prompt: 'Be brief.',
    })
    expect(localStorage.getItem(LEGACY_SETTINGS_KEY)).toBeNull()
    expect(settings.systemPrompt).toBe('Be brief.')
  })

  it('forgets the user values on sign-out', async () => {
    vi.mocked(api.getSettings).mockResolvedValue(server({ system_prompt: 'secret-ish' }))
    const settings = useSettingsStore()
    await settings.load()
    settings.reset()
    expect(settings.systemPrompt).toBe('')
    expect(settings.loaded).toBe(false)
  })

  it('a language chosen while the settings load is kept over the server’s and saved', async () => {
    i18n.global.locale.value = 'ko'
    let answer: (value: ReturnType<typeof server>) => void = () => undefined
    vi.mocked(api.getSettings).mockReturnValue(new Promise((resolve) => (answer = resolve)))
    vi.mocked(api.putSettings).mockResolvedValue(server({ language: 'en' }))
    const settings = useSettingsStore()
    const loading = settings.load()
    await settings.setLanguage('en') // clicked before the server answered
    expect(api.putSettings).not.toHaveBeenCalled()
    answer(server({ language: 'ko' }))
    await loading
    expect(i18n.global.locale.value).toBe('en')
    expect(settings.language).toBe('en')
    expect(api.putSettings).toHaveBeenCalledWith({ language: 'en' })

    // Chosen once: the next load takes the server's value again.
    vi.mocked(api.getSettings).mockResolvedValue(server({ language: 'ko' }))
    await settings.load()
    expect(i18n.global.locale.value).toBe('ko')
  })

  it('a new account keeps the language and theme chosen before registering, and saves them', async () => {
    i18n.global.locale.value = 'en'
    vi.mocked(api.getSettings).mockResolvedValue(server({ language: 'ko', theme: 'system' }))
    vi.mocked(api.putSettings).mockResolvedValue(server({ language: 'en', theme: 'dark' }))
    const settings = useSettingsStore()
    await settings.setTheme('dark') // on the register page: local only
    settings.adoptLocalOnNextLoad()
    await settings.load()
    expect(i18n.global.locale.value).toBe('en')
    expect(settings.theme).toBe('dark')
    expect(api.putSettings).toHaveBeenCalledWith({ theme: 'dark', language: 'en' })

    // The next load (another device, a reload) takes the server's values again.
    vi.mocked(api.getSettings).mockResolvedValue(server({ language: 'ko', theme: 'light' }))
    await settings.load()
    expect(i18n.global.locale.value).toBe('ko')
  })
})
