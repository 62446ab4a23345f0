import { afterEach, describe, expect, it, vi } from 'vitest'
import { defineComponent, h, ref } from 'vue'

vi.mock('@/api/prompts', () => ({
  listPrompts: vi.fn(async () => [
    { id: 'p1', title: 'Summarize', content: 'Summarize this:', category: null, tags: [] },
    {
      id: 'p2',
      title: '영어로 번역',
      content: '다음을 영어로 번역해 줘:',
      category: '번역',
      tags: [],
    },
    { id: 'p3', title: '번역 검토', content: '이 번역을 검토해 줘:', category: '번역', tags: [] },
  ]),
}))

const { byTestId, mountView, settle, testUser } = await import('@/testing/mount')
const { default: MessageComposer } = await import('./MessageComposer.vue')

function harness() {
  const text = ref('')
  const sent: string[] = []
  const Root = defineComponent({
    render: () =>
      h(MessageComposer, {
        streaming: false,
        modelValue: text.value,
        'onUpdate:modelValue': (value: string) => (text.value = value),
        onSend: (value: string) => sent.push(value),
      }),
  })
  return { text, sent, Root }
}

async function type(el: HTMLTextAreaElement, value: string): Promise<void> {
  el.value = value
  el.dispatchEvent(new Event('input'))
  await settle()
}

function key(el: HTMLElement, name: string): void {
  el.dispatchEvent(new KeyboardEvent('keydown', { key: name, bubbles: true, cancelable: true }))
}

describe('message box prompt picker', () => {
  let unmount = () => undefined as void
  afterEach(() => unmount())

  it('"/" opens the library, typing filters, arrows choose, Enter inserts without sending', async () => {
    const { text, sent, Root } = harness()
    const view = await mountView(Root, '/settings', { user: testUser() })
    unmount = view.unmount
    const box = byTestId(view.el, 'composer') as HTMLTextAreaElement
    await type(box, '/')
    expect(view.el.querySelectorAll('[data-testid="prompt-option"]')).toHaveLength(3)
    await type(box, '/번역')
    const options = () =>
      [...view.el.querySelectorAll('[data-testid="prompt-option"]')].map(
        (o) => o.querySelector('.prompt-option-title')?.textContent,
      )
    expect(options()).toEqual(['번역 검토', '영어로 번역'])
    key(box, 'ArrowDown')
    await settle()
    expect(view.el.querySelector('[aria-selected="true"]')?.textContent).toContain('영어로 번역')
    key(box, 'Enter')
    await settle()
    expect(text.value).toBe('다음을 영어로 번역해 줘:')
    expect(byTestId(view.el, 'prompt-picker')).toBeNull()
    expect(sent).toEqual([])
    // Now Enter sends as usual.
    key(box, 'Enter')
    await settle()
    expect(sent).toEqual(['다음을 영어로 번역해 줘:'])
  })

  it('Escape closes the picker and leaves the text', async () => {
    const { text, Root } = harness()
    const view = await mountView(Root, '/settings', { user: testUser() })
    unmount = view.unmount
    const box = byTestId(view.el, 'composer') as HTMLTextAreaElement
    await type(box, '/sum')
    expect(byTestId(view.el, 'prompt-picker')).not.toBeNull()
    key(box, 'Escape')
    await settle()
    expect(byTestId(view.el, 'prompt-picker')).toBeNull()
    expect(text.value).toBe('/sum')
  })
})
