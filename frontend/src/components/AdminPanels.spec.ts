import { afterEach, describe, expect, it, vi } from 'vitest'

vi.mock('@/api/admin', () => ({
  getUsage: vi.fn(),
  listPlans: vi.fn(),
  createPlan: vi.fn(),
  updatePlan: vi.fn(),
  deletePlan: vi.fn(),
  listAudit: vi.fn(),
}))
vi.mock('@/api/models', () => ({
  listModels: vi.fn(async () => [
    {
      id: 'm1',
      name: 'Model One',
      vendor: 'x',
      description: '',
      connection_id: 'c',
      context_window: 1,
      available: true,
    },
    {
      id: 'm2',
      name: 'Model Two',
      vendor: 'x',
      description: '',
      connection_id: 'c',
      context_window: 1,
      available: true,
    },
  ]),
}))

const adminApi = await import('@/api/admin')
const { byTestId, mountView, settle, testUser, waitFor } = await import('@/testing/mount')
const { default: UsagePanel } = await import('./UsagePanel.vue')
const { default: PlansPanel } = await import('./PlansPanel.vue')
const { default: AuditPanel } = await import('./AuditPanel.vue')

describe('admin panels', () => {
  let unmount = () => undefined as void
  afterEach(() => {
    unmount()
    vi.clearAllMocks()
  })

  it('usage: asks for the date range and draws one bar per day with a segment per model', async () => {
    vi.mocked(adminApi.getUsage).mockImplementation(async ({ from }) => ({
      usage: [
        {
          user_id: 'u1',
          username: 'alice',
          model_id: 'm1',
          day: from,
          messages: 3,
          prompt_tokens: 300,
          completion_tokens: 120,
        },
        {
          user_id: 'u2',
          username: 'bob',
          model_id: 'm2',
          day: from,
          messages: 1,
          prompt_tokens: 50,
          completion_tokens: 10,
        },
      ],
      next_cursor: null,
    }))
    const view = await mountView(UsagePanel, '/admin', { user: testUser('admin') })
    unmount = view.unmount
    const [params] = vi.mocked(adminApi.getUsage).mock.calls[0]!
    expect(params.from).toMatch(/^\d{4}-\d{2}-\d{2}$/)
    expect(params.to).toMatch(/^\d{4}-\d{2}-\d{2}$/)
    const bars = view.el.querySelectorAll('[data-testid="usage-bar"]')
    expect(bars).toHaveLength(14) // the default range: two weeks, empty days included
    expect(bars[0]!.querySelectorAll('rect')).toHaveLength(2)
    expect(bars[1]!.querySelectorAll('rect')).toHaveLength(0)
    expect(bars[0]!.querySelector('title')?.textContent).toContain('m1: 420')
    expect(byTestId(view.el, 'usage-table')?.textContent).toContain('alice')

    // Another range is asked for on "Show".
    const fromInput = byTestId(view.el, 'usage-from') as HTMLInputElement
    fromInput.value = '2024-01-01'
    fromInput.dispatchEvent(new Event('input'))
    const toInput = byTestId(view.el, 'usage-to') as HTMLInputElement
    toInput.value = '2024-01-03'
    toInput.dispatchEvent(new Event('input'))
    ;(byTestId(view.el, 'usage-apply') as HTMLButtonElement).form!.dispatchEvent(
      new Event('submit'),
    )
    await waitFor(() => view.el.querySelectorAll('[data-testid="usage-bar"]').length === 3)
    expect(adminApi.getUsage).toHaveBeenLastCalledWith({
      from: '2024-01-01',
      to: '2024-01-03',
      cursor: undefined,
    })
  })

  it('plans: creates a plan with a limit, chosen models and self-service', async () => {
    vi.mocked(adminApi.listPlans).mockResolvedValue([])
    vi.mocked(adminApi.createPlan).mockResolvedValue({
      id: 'p1',
      name: 'Team',
      daily_message_limit: 100,
      allowed_models: ['m2'],
      self_service: true,
    })
    const view = await mountView(PlansPanel, '/admin', { user: testUser('admin') })
    unmount = view.unmount
    byTestId(view.el, 'plan-add')!.click()
    await settle()
    const name = byTestId(view.el, 'plan-name') as HTMLInputElement
    name.value = 'Team'
    name.dispatchEvent(new Event('input'))
    const limit = byTestId(view.el, 'plan-limit') as HTMLInputElement
    limit.value = '100'
    limit.dispatchEvent(new Event('input'))
    await waitFor(() => view.el.querySelectorAll('[data-testid="plan-model"]').length === 2)
    const boxes = view.el.querySelectorAll<HTMLInputElement>('[data-testid="plan-model"]')
    boxes[1]!.click()
    ;(byTestId(view.el, 'plan-self-service') as HTMLInputElement).click()
    await settle()
    byTestId(view.el, 'plan-form')!.dispatchEvent(new Event('submit'))
    await settle()
    expect(adminApi.createPlan).toHaveBeenCalledWith({
      name: 'Team',
      daily_message_limit: 100,
      allowed_models: ['m2'],
      self_service: true,
      is_default: false,
    })
    expect(adminApi.listPlans).toHaveBeenCalledTimes(2)
  })

  it('audit: pages through the log with the cursor', async () => {
    const entry = (id: string) => ({
      id,
      actor_id: 'a',
      actor_name: 'admin',
      action: 'plan.create',
      target: 'plan:p1',
      detail: { name: 'Team' },
      created_at: '2024-01-01T00:00:00Z',
    })
    vi.mocked(adminApi.listAudit)
      .mockResolvedValueOnce({ entries: [entry('1')], next_cursor: 'next' })
      .mockResolvedValueOnce({ entries: [entry('2')], next_cursor: null })
    const view = await mountView(AuditPanel, '/admin', { user: testUser('admin') })
    unmount = view.unmount
    expect(view.el.querySelectorAll('[data-testid="audit-row"]')).toHaveLength(1)
    byTestId(view.el, 'audit-more')!.click()
    await settle()
    expect(adminApi.listAudit).toHaveBeenLastCalledWith({ limit: 50, cursor: 'next' })
    expect(view.el.querySelectorAll('[data-testid="audit-row"]')).toHaveLength(2)
    expect(byTestId(view.el, 'audit-more')).toBeNull()
  })
})
