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

/** A root rendering the message box with `props()` (read on each render). */
function composerRoot(props: () => Record<string, unknown>) {
  return defineComponent({ render: () => h(MessageComposer, { streaming: false, ...props() }) })
}

function harness() {
  const text = ref('')
  const sent: string[] = []
  const Root = composerRoot(() => ({
    modelValue: text.value,
    'onUpdate:modelValue': (value: string) => (text.value = value),
    onSend: (value: string) => sent.push(value),
  }))
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

  it('a pasted screenshot is attached under a screenshot name; a text paste is not', async () => {
    const added: File[][] = []
    const Root = composerRoot(() => ({
      modelValue: '',
      onAddFiles: (files: File[]) => added.push(files),
    }))
    const view = await mountView(Root, '/settings', { user: testUser() })
    unmount = view.unmount
    const box = byTestId(view.el, 'composer') as HTMLTextAreaElement
    const paste = (files: File[]) => {
      const event = new Event('paste', { bubbles: true, cancelable: true })
      Object.defineProperty(event, 'clipboardData', { value: { files, types: ['Files'] } })
      box.dispatchEvent(event)
      return event
    }
    expect(paste([]).defaultPrevented).toBe(false)
    const event = paste([new File(['png'], 'image.png', { type: 'image/png' })])
    expect(event.defaultPrevented).toBe(true)
    expect(added).toHaveLength(1)
    expect(added[0]?.[0]?.name).toMatch(/^screenshot-\d{4}-\d{2}-\d{2}-\d{6}\.png$/)
  })

  it('Send waits while a file uploads; uploaded files may go without text', async () => {
    const sent: string[] = []
    const status = ref<'uploading' | 'done'>('uploading')
    const Root = composerRoot(() => ({
      modelValue: '',
      files: [
        {
          key: 'a1',
          name: 'report.pdf',
          size: 10,
          mime: 'application/pdf',
          kind: 'document',
          status: status.value,
          progress: status.value === 'done' ? 1 : 0.3,
          file: null,
          error: null,
          errorCode: null,
          localUrl: null,
        },
      ],
      onSend: (value: string) => sent.push(value),
    }))
    const view = await mountView(Root, '/settings', { user: testUser() })
    unmount = view.unmount
    const send = byTestId(view.el, 'send') as HTMLButtonElement
    expect(send.disabled).toBe(true)
    expect(send.title).toBe('Wait until the files are uploaded.')
    key(byTestId(view.el, 'composer')!, 'Enter')
    await settle()
    expect(sent).toEqual([])
    status.value = 'done'
    await settle()
    expect(send.disabled).toBe(false)
    key(byTestId(view.el, 'composer')!, 'Enter')
    await settle()
    expect(sent).toEqual([''])
  })

  it('the paperclip opens a menu: upload files, or attach from the collector', async () => {
    const opened: number[] = []
    const Root = composerRoot(() => ({ modelValue: '', onAttach: () => opened.push(1) }))
    const view = await mountView(Root, '/settings', { user: testUser() })
    unmount = view.unmount
    const clip = byTestId(view.el, 'attach-open') as HTMLButtonElement
    expect(clip.getAttribute('aria-label')).toBe('Attach files')
    clip.click()
    await settle()
    expect(clip.getAttribute('aria-expanded')).toBe('true')
    expect(byTestId(view.el, 'attach-upload')?.textContent).toContain('Upload files')
    const input = byTestId(view.el, 'file-input') as HTMLInputElement
    expect(input.type).toBe('file')
    expect(input.multiple).toBe(true)
    byTestId(view.el, 'attach-collector')!.click()
    await settle()
    expect(opened).toEqual([1])
    expect(byTestId(view.el, 'attach-menu')).toBeNull()
  })
})
