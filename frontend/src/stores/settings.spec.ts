import { createPinia, setActivePinia } from 'pinia'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { nextTick } from 'vue'

import { SETTINGS_STORAGE_KEY, useSettingsStore } from './settings'

describe('settings store', () => {
  beforeEach(() => setActivePinia(createPinia()))
  afterEach(() => {
    localStorage.clear()
    delete document.documentElement.dataset.theme
  })

  it('applies the theme to <html> and remembers the preferences (never a token)', async () => {
    const settings = useSettingsStore()
    expect(settings.theme).toBe('system')
    expect(document.documentElement.dataset.theme).toBeUndefined()
    settings.theme = 'dark'
    settings.systemPrompt = 'Be brief.'
    await nextTick()
    expect(document.documentElement.dataset.theme).toBe('dark')
    const stored = JSON.parse(localStorage.getItem(SETTINGS_STORAGE_KEY)!)
    expect(stored).toEqual({ theme: 'dark', default_model_id: null, system_prompt: 'Be brief.' })

    setActivePinia(createPinia())
    expect(useSettingsStore().theme).toBe('dark')
  })

  it('ignores a corrupt stored value', () => {
    localStorage.setItem(SETTINGS_STORAGE_KEY, '{not json')
    expect(useSettingsStore().theme).toBe('system')
  })
})
