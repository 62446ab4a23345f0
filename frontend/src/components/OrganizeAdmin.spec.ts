import { afterEach, describe, expect, it, vi } from 'vitest'

import type { Group } from '@/api/types'

vi.mock('@/api/admin', () => ({
  getAdminSettings: vi.fn(async () => ({
    registration_mode: 'open',
    retention_days: null,
    retention_archived_days: 90,
  })),
  putAdminSettings: vi.fn(async (s: object) => ({ registration_mode: 'open', ...s })),
  listPlans: vi.fn(async () => [
    { id: 'p1', name: 'Team', daily_message_limit: null, allowed_models: [], self_service: false },
  ]),
}))
vi.mock('@/api/groups', () => ({
  previewRetention: vi.fn(async () => ({
    conversations: 120,
    archived_conversations: 7,
    users: 5,
  })),
  runRetention: vi.fn(async () => ({ conversations: 3, archived_conversations: 1 })),
  listGroups: vi.fn(async () => []),
  getGroup: vi.fn(),
  createGroup: vi.fn(),
  updateGroup: vi.fn(),
  deleteGroup: vi.fn(async () => undefined),
  addGroupMembers: vi.fn(async () => ({ added: 2 })),
  removeGroupMember: vi.fn(async () => undefined),
}))
vi.mock('@/api/users', () => ({
  listUsers: vi.fn(async () => ({
    users: [
      { id: 'u1', username: 'bob', display_name: 'Bob', role: 'user', status: 'active' },
      { id: 'u2', username: 'bora', display_name: null, role: 'user', status: 'active' },
    ],
    next_cursor: null,
  })),
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
  ]),
}))

const adminApi = await import('@/api/admin')
const groupsApi = await import('@/api/groups')
const usersApi = await import('@/api/users')
const { byTestId, mountView, settle, testUser, waitFor } = await import('@/testing/mount')
const { default: RetentionPanel } = await import('./RetentionPanel.vue')
const { default: GroupsPanel } = await import('./GroupsPanel.vue')

function setValue(el: HTMLElement | null, value: string): void {
  const input = el as HTMLInputElement
  input.value = value
  input.dispatchEvent(new Event('input'))
  input.dispatchEvent(new Event('change'))
}

const group: Group = {
  id: 'g1',
  name: 'Research',
  description: 'The lab',
  plan_id: 'p1',
  temporary_chats: false,
  model_ids: ['m1', 'gone-model'],
  member_count: 1,
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
}

describe('issue 21 admin panels', () => {
  let unmount = () => undefined as void
  afterEach(() => {
    unmount()
    document.body.innerHTML = ''
    vi.clearAllMocks()
  })

  it('retention: loads the policy, previews the counts, saves, runs after a confirm', async () => {
    const view = await mountView(RetentionPanel, '/', { user: testUser('admin') })
    unmount = view.unmount
    const days = byTestId(view.el, 'retention-days') as HTMLInputElement
    const archived = byTestId(view.el, 'retention-archived-days') as HTMLInputElement
    expect(days.value).toBe('')
    expect(archived.value).toBe('90')

    setValue(days, '30')
    await settle()
    byTestId(view.el, 'retention-preview-btn')!.click()
    await settle()
    expect(groupsApi.previewRetention).toHaveBeenCalledWith(30, 90)
    expect(byTestId(view.el, 'retention-preview')?.textContent).toContain(
      '120 conversations (7 archived) from 5 users would be deleted now',
    )

    setValue(days, '0')
    await settle()
    expect(view.el.textContent).toContain('Between 1 and 36500')
    expect((byTestId(view.el, 'retention-save') as HTMLButtonElement).disabled).toBe(true)
    setValue(days, '30')
    await settle()
    byTestId(view.el, 'retention-save')!.click()
    await settle()
    expect(adminApi.putAdminSettings).toHaveBeenCalledWith({
      retention_days: 30,
      retention_archived_days: 90,
    })

    byTestId(view.el, 'retention-run')!.click()
    await settle()
    expect(groupsApi.runRetention).not.toHaveBeenCalled()
    byTestId(view.el, 'retention-run-confirm')!.click()
    await settle()
    expect(groupsApi.runRetention).toHaveBeenCalledTimes(1)
  })

  it('groups: lists, creates with plan, models and temporary; adds several members at once', async () => {
    vi.mocked(groupsApi.listGroups).mockResolvedValue([group])
    vi.mocked(groupsApi.getGroup).mockResolvedValue({
      ...group,
      members: [{ id: 'u1', username: 'bob', display_name: 'Bob' }],
    })
    const view = await mountView(GroupsPanel, '/', { user: testUser('admin') })
    unmount = view.unmount
    await waitFor(() => !!byTestId(view.el, 'group-row'))
    const row = byTestId(view.el, 'group-row')!
    expect(row.textContent).toContain('Research')
    expect(row.textContent).toContain('Team')
    expect(row.textContent).toContain('m1, gone-model')

    // Edit: a model that left its connection is still ticked and sent back.
    byTestId(row, 'group-edit')!.click()
    await settle()
    let dialog = byTestId(document.body, 'group-editor')!
    const ticked = [...dialog.querySelectorAll<HTMLInputElement>('[data-testid="group-model"]')]
      .filter((box) => box.checked)
      .map((box) => box.value)
    expect(ticked.sort()).toEqual(['gone-model', 'm1'])
    expect(byTestId(dialog, 'group-members')?.textContent).toContain('Bob')

    setValue(byTestId(dialog, 'group-user-search'), 'bo')
    await waitFor(() => !!byTestId(document.body, 'group-found-user'), 2000)
    expect(usersApi.listUsers).toHaveBeenCalledWith({ q: 'bo', limit: 20 })
    dialog = byTestId(document.body, 'group-editor')!
    const picks = [...dialog.querySelectorAll<HTMLInputElement>('[data-testid="group-pick-user"]')]
    expect(picks[0]?.disabled, 'Bob is already a member').toBe(true)
    picks[1]!.click()
    await settle()
    byTestId(dialog, 'group-add-members')!.click()
    await settle()
    expect(groupsApi.addGroupMembers).toHaveBeenCalledWith('g1', ['u2'])

    byTestId(dialog, 'group-member-remove')!.click()
    await settle()
    expect(groupsApi.removeGroupMember).toHaveBeenCalledWith('g1', 'u1')

    vi.mocked(groupsApi.updateGroup).mockResolvedValueOnce({ ...group, temporary_chats: true })
    ;(byTestId(dialog, 'group-temporary') as HTMLInputElement).click()
    byTestId(dialog, 'group-save')!.click()
    await settle()
    expect(groupsApi.updateGroup).toHaveBeenCalledWith('g1', {
      name: 'Research',
      description: 'The lab',
      plan_id: 'p1',
      temporary_chats: true,
      model_ids: ['m1', 'gone-model'],
    })
    expect(byTestId(document.body, 'group-editor')).toBeNull()
  })

  it('groups: a taken name is said in words', async () => {
    const { ApiError } = await import('@/api/http')
    vi.mocked(groupsApi.createGroup).mockRejectedValueOnce(
      new ApiError(409, 'name_taken', 'a group with this name exists'),
    )
    const view = await mountView(GroupsPanel, '/', { user: testUser('admin') })
    unmount = view.unmount
    byTestId(view.el, 'group-add')!.click()
    await settle()
    const dialog = byTestId(document.body, 'group-editor')!
    setValue(byTestId(dialog, 'group-name'), 'Research')
    await settle()
    byTestId(dialog, 'group-save')!.click()
    await settle()
    expect(groupsApi.createGroup).toHaveBeenCalledWith(
      expect.objectContaining({ name: 'Research', plan_id: null, temporary_chats: false }),
    )
    expect(dialog.querySelector('[role="alert"]')?.textContent).toContain(
      'This name is already taken.',
    )
  })
})
