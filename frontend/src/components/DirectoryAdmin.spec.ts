// Issue 22 in the admin's other tabs: the sign-in method badge and e-mail of each account, and
// the group editor's directory groups (one per line) with its members' "directory" badge.
import { afterEach, describe, expect, it, vi } from 'vitest'

import type { Group, User } from '@/api/types'

vi.mock('@/api/admin', () => ({
  listPlans: vi.fn(async () => []),
}))
vi.mock('@/api/groups', () => ({
  listGroups: vi.fn(async () => []),
  getGroup: vi.fn(),
  createGroup: vi.fn(),
  updateGroup: vi.fn(),
  deleteGroup: vi.fn(async () => undefined),
  addGroupMembers: vi.fn(async () => ({ added: 0 })),
  removeGroupMember: vi.fn(async () => undefined),
}))
vi.mock('@/api/users', () => ({
  listUsers: vi.fn(),
  getUserSettings: vi.fn(async () => ({
    theme: 'system',
    language: 'en',
    default_model_id: null,
    system_prompt: '',
    subscription: null,
  })),
  listUserConversations: vi.fn(async () => ({ conversations: [], next_cursor: null })),
}))
vi.mock('@/api/models', () => ({ listModels: vi.fn(async () => []) }))

const groupsApi = await import('@/api/groups')
const usersApi = await import('@/api/users')
const { byTestId, mountView, settle, testUser, waitFor } = await import('@/testing/mount')
const { default: UsersPanel } = await import('./UsersPanel.vue')
const { default: GroupsPanel } = await import('./GroupsPanel.vue')

function setValue(el: HTMLElement | null, value: string): void {
  const input = el as HTMLInputElement
  input.value = value
  input.dispatchEvent(new Event('input'))
}

const account = (over: Partial<User>): User => ({ ...testUser(), ...over })

const group: Group = {
  id: 'g1',
  name: 'Research',
  description: null,
  plan_id: null,
  temporary_chats: false,
  model_ids: [],
  member_count: 2,
  directory_groups: ['CN=research,OU=Groups,DC=corp,DC=example'],
  created_at: '2026-01-01T00:00:00Z',
  updated_at: '2026-01-01T00:00:00Z',
}

describe('directory sign-in in the admin pages', () => {
  let unmount = () => undefined as void
  afterEach(() => {
    unmount()
    document.body.innerHTML = ''
    vi.clearAllMocks()
  })

  it('users: each account shows how it signs in, and its e-mail when there is one', async () => {
    vi.mocked(usersApi.listUsers).mockResolvedValue({
      users: [
        account({ id: 'u1', username: 'admin', auth_method: 'local', email: null }),
        account({ id: 'u2', username: 'kim', auth_method: 'ldap', email: 'kim@corp.example' }),
        account({ id: 'u3', username: 'lee', auth_method: 'oidc', email: 'lee@corp.example' }),
        account({ id: 'u4', username: 'park', auth_method: 'proxy' }),
        account({ id: 'u5', username: 'bot', auth_method: 'token' }),
        account({ id: 'u6', username: 'ex', auth_method: 'exchange' }),
        // An older server: neither field.
        account({ id: 'u7', username: 'old' }),
      ],
      next_cursor: null,
    })
    const view = await mountView(UsersPanel, '/', { user: testUser('admin') })
    unmount = view.unmount
    await waitFor(() => !!byTestId(view.el, 'user-row-old'))
    const badge = (name: string) =>
      byTestId(byTestId(view.el, `user-row-${name}`)!, 'auth-method')?.textContent?.trim()
    expect(badge('admin')).toContain('Local')
    expect(badge('kim')).toContain('LDAP')
    expect(badge('lee')).toContain('SSO')
    expect(badge('park')).toContain('Proxy')
    expect(badge('bot')).toContain('Token')
    expect(badge('ex')).toContain('Exchange')
    expect(badge('old')).toBeUndefined()
    const email = (name: string) =>
      byTestId(byTestId(view.el, `user-row-${name}`)!, 'user-email')?.textContent
    expect(email('kim')).toBe('kim@corp.example')
    expect(email('admin')).toBeUndefined()

    // The user dialog says it too.
    byTestId(byTestId(view.el, 'user-row-kim')!, 'user-details')!.click()
    await settle()
    const dialog = byTestId(document.body, 'user-detail')!
    expect(byTestId(dialog, 'auth-method')?.textContent).toContain('LDAP')
    expect(byTestId(dialog, 'user-detail-email')?.textContent?.trim()).toBe('kim@corp.example')
  })

  it('groups: directory groups one per line, sent as a list; directory members are marked', async () => {
    vi.mocked(groupsApi.listGroups).mockResolvedValue([group])
    vi.mocked(groupsApi.getGroup).mockResolvedValue({
      ...group,
      members: [
        { id: 'u1', username: 'bob', display_name: 'Bob', source: 'manual' },
        { id: 'u2', username: 'kim', display_name: 'Kim', source: 'directory' },
      ],
    })
    vi.mocked(groupsApi.updateGroup).mockImplementation(async (_id, patch) => ({
      ...group,
      ...patch,
    }))
    const view = await mountView(GroupsPanel, '/', { user: testUser('admin') })
    unmount = view.unmount
    await waitFor(() => !!byTestId(view.el, 'group-row'))
    byTestId(byTestId(view.el, 'group-row')!, 'group-edit')!.click()
    await waitFor(() => document.querySelectorAll('[data-testid="group-member"]').length === 2)
    const dialog = byTestId(document.body, 'group-editor')!
    const text = byTestId(dialog, 'group-directory-groups') as HTMLTextAreaElement
    expect(text.value).toBe('CN=research,OU=Groups,DC=corp,DC=example')
    expect(dialog.textContent).toContain('Directory groups')

    const members = [...dialog.querySelectorAll<HTMLElement>('[data-testid="group-member"]')]
    expect(byTestId(members[0]!, 'group-member-directory')).toBeNull()
    expect(byTestId(members[1]!, 'group-member-directory')?.textContent).toBe('directory')

    setValue(text, 'CN=research,OU=Groups,DC=corp,DC=example\n\n  daehwa-lab  \n')
    await settle()
    byTestId(dialog, 'group-save')!.click()
    await settle()
    expect(groupsApi.updateGroup).toHaveBeenCalledWith(
      'g1',
      expect.objectContaining({
        directory_groups: ['CN=research,OU=Groups,DC=corp,DC=example', 'daehwa-lab'],
      }),
    )
  })

  it('groups: a new group without directory groups does not send the field', async () => {
    vi.mocked(groupsApi.createGroup).mockResolvedValue({ ...group, directory_groups: [] })
    vi.mocked(groupsApi.getGroup).mockResolvedValue({ ...group, members: [] })
    const view = await mountView(GroupsPanel, '/', { user: testUser('admin') })
    unmount = view.unmount
    byTestId(view.el, 'group-add')!.click()
    await settle()
    const dialog = byTestId(document.body, 'group-editor')!
    setValue(byTestId(dialog, 'group-name'), 'Lab')
    await settle()
    byTestId(dialog, 'group-save')!.click()
    await settle()
    expect(groupsApi.createGroup).toHaveBeenCalledWith(
      expect.not.objectContaining({ directory_groups: expect.anything() }),
    )
  })
})
