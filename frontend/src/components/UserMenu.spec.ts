import { afterEach, describe, expect, it, vi } from 'vitest'

vi.mock('@/api/conversations', () => ({
  listConversations: vi.fn(async () => ({ conversations: [], next_cursor: null })),
  importConversation: vi.fn(),
  deleteConversation: vi.fn(async () => undefined),
}))

const { byTestId, mountView, settle, testUser } = await import('@/testing/mount')
const { default: UserMenu } = await import('./UserMenu.vue')

const key = (el: Element, key: string) =>
  el.dispatchEvent(new KeyboardEvent('keydown', { key, bubbles: true, cancelable: true }))

describe('the user menu', () => {
  let unmount = () => undefined as void
  afterEach(() => unmount())

  it('is a menu button: opens on the first item, arrows move, Escape closes to the button', async () => {
    const view = await mountView(UserMenu, '/', { user: testUser('admin') })
    unmount = view.unmount
    const button = byTestId(view.el, 'user-menu')!
    const menu = byTestId(view.el, 'user-menu-list')!
    expect(button.getAttribute('aria-haspopup')).toBe('menu')
    expect(button.getAttribute('aria-expanded')).toBe('false')
    expect(byTestId(view.el, 'user-name')!.textContent).toBe('Admin')
    expect(menu.style.display).toBe('none')

    button.click()
    await settle()
    expect(button.getAttribute('aria-expanded')).toBe('true')
    expect(menu.getAttribute('role')).toBe('menu')
    expect(menu.style.display).toBe('')
    const items = [...menu.querySelectorAll<HTMLElement>('[role="menuitem"]')]
    expect(items.map((i) => i.dataset.testid)).toEqual([
      'nav-collector',
      'import-conversation',
      'nav-settings',
      'nav-api-docs',
      'nav-admin',
      'sign-out',
    ])
    expect(document.activeElement).toBe(items[0])

    key(menu, 'ArrowDown')
    expect(document.activeElement).toBe(items[1])
    key(menu, 'ArrowUp')
    key(menu, 'ArrowUp')
    expect(document.activeElement, 'ArrowUp wraps to the last item').toBe(items[5])
    key(menu, 'Home')
    expect(document.activeElement).toBe(items[0])
    key(menu, 'End')
    expect(document.activeElement).toBe(items[5])

    key(menu, 'Escape')
    await settle()
    expect(button.getAttribute('aria-expanded')).toBe('false')
    expect(menu.style.display).toBe('none')
    expect(document.activeElement).toBe(button)

    key(button, 'ArrowUp')
    await settle()
    expect(document.activeElement, 'ArrowUp on the button opens on the last item').toBe(items[5])
  })

  it('a click outside closes it; a plain user has no administration item', async () => {
    const view = await mountView(UserMenu, '/', { user: testUser() })
    unmount = view.unmount
    byTestId(view.el, 'user-menu')!.click()
    await settle()
    expect(byTestId(view.el, 'nav-admin')).toBeNull()
    document.body.dispatchEvent(new MouseEvent('click', { bubbles: true }))
    await settle()
    expect(byTestId(view.el, 'user-menu')!.getAttribute('aria-expanded')).toBe('false')
  })
})
