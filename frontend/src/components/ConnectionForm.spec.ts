import { afterEach, describe, expect, it, vi } from 'vitest'

import type { Connection, ConnectionInput } from '@/api/types'

vi.mock('@/api/admin', () => ({
  createConnection: vi.fn(),
  updateConnection: vi.fn(),
  testConnection: vi.fn(),
}))

const adminApi = await import('@/api/admin')
const { byTestId, mountView, settle, testUser } = await import('@/testing/mount')
const { default: ConnectionForm } = await import('./ConnectionForm.vue')
const { defineComponent, h } = await import('vue')

/** What the server stores: models given replace the list; none given keep it. */
let stored: Connection
function server() {
  vi.mocked(adminApi.createConnection).mockImplementation(async (input: ConnectionInput) => {
    stored = {
      id: 'c1',
      name: input.name ?? '',
      kind: input.kind ?? 'openai',
      base_url: input.base_url ?? '',
      no_proxy: false,
      enabled: true,
      // Created while the URL was wrong: the discovery failed, no models.
      models: [],
      created_at: '2024-01-01T00:00:00Z',
      updated_at: '2024-01-01T00:00:00Z',
    }
    return stored
  })
  vi.mocked(adminApi.updateConnection).mockImplementation(async (_id, input) => {
    stored = {
      ...stored,
      ...(input.base_url ? { base_url: input.base_url } : {}),
      ...(input.models
        ? {
            models: input.models.map((m) => ({
              id: m.id,
              upstream_id: m.id,
              name: m.name,
              vendor: m.vendor,
              description: m.description ?? '',
              enabled: m.enabled,
            })),
          }
        : {}),
    }
    return stored
  })
  vi.mocked(adminApi.testConnection).mockImplementation(async () =>
    stored.base_url.includes(':9/')
      ? { ok: false, models: [], error: 'could not reach the LLM provider: connection refused' }
      : {
          ok: true,
          models: [
            { id: 'fake-model', name: 'fake-model', vendor: 'fake' },
            { id: 'fake-mini', name: 'fake-mini', vendor: 'fake' },
          ],
        },
  )
}

function input(el: HTMLElement, id: string, value: string): void {
  const field = byTestId(el, id) as HTMLInputElement
  field.value = value
  field.dispatchEvent(new Event('input'))
}

/** Clicks a button once it is enabled (the form enables them after the input settled). */
async function press(el: HTMLElement, id: string): Promise<void> {
  await settle()
  const button = byTestId(el, id) as HTMLButtonElement
  expect(button.disabled, `${id} is disabled`).toBe(false)
  button.click()
  await settle(10)
}

/** The form in a page, with what it emitted as `saved`. */
const saved: Connection[] = []
const Root = defineComponent({
  render: () => h(ConnectionForm, { onSaved: (c: Connection) => saved.push(c) }),
})
async function mountForm() {
  saved.length = 0
  const view = await mountView(Root, '/settings', { user: testUser('admin') })
  return { saved, view }
}

describe('connection form', () => {
  let unmount = () => undefined as void
  afterEach(() => {
    unmount()
    vi.clearAllMocks()
  })

  it('a failed Test, then a corrected Test and Save: the models are saved enabled', async () => {
    server()
    const { saved, view } = await mountForm()
    unmount = view.unmount
    ;(byTestId(view.el, 'preset-compatible') as HTMLInputElement).click()
    await settle()
    input(view.el, 'connection-url', 'http://127.0.0.1:9/v1')
    await press(view.el, 'connection-test')
    expect(byTestId(view.el, 'test-result')?.className).toContain('bad')
    expect(byTestId(view.el, 'test-problem')?.textContent).toContain(
      'Could not reach the provider at this address',
    )
    expect(stored.models).toEqual([])

    input(view.el, 'connection-url', 'http://127.0.0.1:11434/v1')
    await press(view.el, 'connection-test')
    expect(byTestId(view.el, 'test-result')?.className).toContain('ok')
    expect(byTestId(view.el, 'models-enabled')?.textContent).toContain('2 models are enabled')
    expect(stored.models.map((m) => [m.id, m.enabled])).toEqual([
      ['fake-model', true],
      ['fake-mini', true],
    ])

    await press(view.el, 'connection-save')
    expect(saved).toHaveLength(1)
    expect(saved[0]?.models.filter((m) => m.enabled)).toHaveLength(2)
  })

  it('Save alone, after a failed Test, discovers the models too', async () => {
    server()
    const { saved, view } = await mountForm()
    unmount = view.unmount
    ;(byTestId(view.el, 'preset-compatible') as HTMLInputElement).click()
    await settle()
    input(view.el, 'connection-url', 'http://127.0.0.1:9/v1')
    await press(view.el, 'connection-test')
    input(view.el, 'connection-url', 'http://127.0.0.1:11434/v1')
    await press(view.el, 'connection-save')
    expect(saved).toHaveLength(1)
    expect(saved[0]?.models.map((m) => m.enabled)).toEqual([true, true])
  })

  it('Save with a provider still down stays in the form and says why', async () => {
    server()
    const { saved, view } = await mountForm()
    unmount = view.unmount
    ;(byTestId(view.el, 'preset-compatible') as HTMLInputElement).click()
    await settle()
    input(view.el, 'connection-url', 'http://127.0.0.1:9/v1')
    await press(view.el, 'connection-save')
    expect(saved).toHaveLength(0)
    expect(byTestId(view.el, 'test-result')?.className).toContain('bad')
  })
})
