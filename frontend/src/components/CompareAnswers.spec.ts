import { afterEach, describe, expect, it } from 'vitest'
import { defineComponent, h, ref } from 'vue'

import type { Message, Model } from '@/api/types'

const { byTestId, mountView, settle, testUser } = await import('@/testing/mount')
const { default: CompareAnswers } = await import('./CompareAnswers.vue')
const { useModelsStore } = await import('@/stores/models')

const model = (id: string, name: string): Model => ({
  id,
  name,
  vendor: 'openai',
  description: '',
  connection_id: 'c1',
  available: true,
})

const answer = (id: string, model_id: string, content: string, over: Partial<Message> = {}) =>
  ({
    id,
    idx: 2,
    role: 'assistant',
    content,
    model_id,
    status: 'complete',
    parent_id: 'u1',
    sibling_ids: ['a1', 'a2'],
    usage: null,
    feedback: null,
    created_at: '2024-01-01T00:00:00Z',
    updated_at: '2024-01-01T00:00:00Z',
    ...over,
  }) as Message

describe('side-by-side answers', () => {
  let unmount = () => undefined as void
  afterEach(() => unmount())

  it('shows each model with its status and sanitized Markdown, and keeps the chosen one', async () => {
    const kept = ref<string[]>([])
    const answers = ref<Message[]>([
      answer('a1', 'm1', '**bold** <img src=x onerror="alert(1)">', { status: 'streaming' }),
      answer('a2', 'm2', 'partial', { status: 'error', error: 'upstream broke' }),
    ])
    const busy = ref(true)
    const Root = defineComponent({
      setup() {
        const models = useModelsStore()
        models.models = [model('m1', 'Alpha'), model('m2', 'Beta')]
        models.loaded = true
      },
      render: () =>
        h(CompareAnswers, {
          answers: answers.value,
          busy: busy.value,
          onKeep: (id: string) => kept.value.push(id),
        }),
    })
    const view = await mountView(Root, '/settings', { user: testUser() })
    unmount = view.unmount
    const columns = [...view.el.querySelectorAll('[data-compare-answer]')]
    expect(columns.map((c) => c.querySelector('.compare-model-name')?.textContent)).toEqual([
      'Alpha',
      'Beta',
    ])
    expect(columns[0]?.querySelector('strong:not(.compare-model-name)')?.textContent).toBe('bold')
    expect(columns[0]?.querySelector('img, [onerror]')).toBeNull()
    expect(byTestId(columns[0] as HTMLElement, 'compare-stop')).not.toBeNull()
    expect(byTestId(columns[1] as HTMLElement, 'compare-stop')).toBeNull()
    expect(columns[1]?.querySelector('[role="alert"]')).not.toBeNull()
    // Keeping waits for every answer to end.
    const keep = byTestId(columns[1] as HTMLElement, 'compare-keep') as HTMLButtonElement
    expect(keep.disabled).toBe(true)
    busy.value = false
    answers.value = [answers.value[0]!, answers.value[1]!].map((a) =>
      a.status === 'streaming' ? { ...a, status: 'complete' } : a,
    )
    await settle()
    keep.click()
    expect(kept.value).toEqual(['a2'])
  })
})
