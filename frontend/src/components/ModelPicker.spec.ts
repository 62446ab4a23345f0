import { afterEach, describe, expect, it } from 'vitest'
import { defineComponent, h, ref } from 'vue'

import type { Model } from '@/api/types'

const { byTestId, mountView, settle, testUser } = await import('@/testing/mount')
const { default: ModelPicker } = await import('./ModelPicker.vue')
const { useModelsStore } = await import('@/stores/models')

const model = (id: string, vision: boolean): Model => ({
  id,
  name: id,
  vendor: 'openai',
  description: '',
  connection_id: 'c1',
  available: true,
  vision,
})

describe('model picker', () => {
  let unmount = () => undefined as void
  afterEach(() => unmount())

  it('marks the models that see images, and the chosen one when it does', async () => {
    const chosen = ref('gpt-4o')
    const Root = defineComponent({
      setup() {
        const models = useModelsStore()
        models.models = [model('gpt-4o', true), model('gpt-3.5-turbo', false)]
        models.loaded = true
      },
      render: () =>
        h(ModelPicker, {
          modelValue: chosen.value,
          'onUpdate:modelValue': (id: string) => (chosen.value = id),
        }),
    })
    const view = await mountView(Root, '/settings', { user: testUser() })
    unmount = view.unmount
    const options = [...view.el.querySelectorAll('option')]
    expect(options.map((o) => o.textContent?.trim())).toEqual(['gpt-4o 👁', 'gpt-3.5-turbo'])
    expect(options[0]?.getAttribute('title')).toBe('Sees images')
    expect(options[1]?.hasAttribute('title')).toBe(false)
    expect(byTestId(view.el, 'model-vision')?.textContent).toContain('Sees images')

    chosen.value = 'gpt-3.5-turbo'
    await settle()
    expect(byTestId(view.el, 'model-vision')).toBeNull()
  })
})
