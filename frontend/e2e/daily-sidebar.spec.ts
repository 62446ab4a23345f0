// Issue 18, items 7 and 9: a sidebar that shows conversations (the links folded into the user
// menu, search snippets, "Undo" after archive and delete, double-click to rename) and the
// admin pages on a phone (tabs, the usage chart). A new user of its own; the phone part signs
// in as Alice (the admin chat.spec.ts registered). Screenshots: side-….
import { expect, test, type BrowserContext, type Locator, type Page } from '@playwright/test'

import {
  ALICE,
  PASSWORD,
  at,
  login,
  nav,
  newContext,
  register,
  send,
  shot,
  waitAnswer,
  watch,
} from './helpers'

test.describe.configure({ mode: 'serial' })

const USER = `erin_${process.env.E2E_SUFFIX || Date.now().toString(36).slice(-5)}`
/** The "Undo" delay of a delete (stores/conversations.ts), and a margin. */
const UNDO_MS = 5_000

let context: BrowserContext
let page: Page
let problems: string[] = []

test.beforeAll(async ({ browser }) => {
  context = await newContext(browser, { viewport: { width: 1440, height: 900 } })
  page = await context.newPage()
  problems = watch(page)
})

test.afterAll(async () => {
  await context?.close()
})

const links = () => page.getByTestId('conversation-link')
const item = (title: string) =>
  page
    .locator('.conv')
    .filter({ has: page.getByTestId('conversation-title').getByText(title, { exact: true }) })

/** The conversation's id, from its link. */
async function idOf(row: Locator): Promise<string> {
  const href = (await row.getByTestId('conversation-link').getAttribute('href')) ?? ''
  return href.split('/').pop() ?? ''
}

async function openItemMenu(row: Locator): Promise<void> {
  await row.hover()
  await row.getByTestId('conversation-menu').click()
}

async function deleteItem(row: Locator): Promise<void> {
  await openItemMenu(row)
  await page.getByTestId('menu-delete').click()
  await page.getByTestId('menu-delete-confirm').click()
  await expect(row).toHaveCount(0)
}

/** The DELETE of that conversation reaching the server. */
const deleteSent = (id: string) =>
  page.waitForResponse(
    (r) => r.request().method() === 'DELETE' && r.url().endsWith(`/api/v1/conversations/${id}`),
    { timeout: UNDO_MS + 15_000 },
  )

async function reloadList(): Promise<void> {
  await page.reload({ waitUntil: 'domcontentloaded' })
  await expect(page.getByTestId('sidebar')).toBeVisible()
  await expect.poll(() => links().count()).toBeGreaterThan(10)
}

test('30 conversations: far more than 10 fit the sidebar at 1440×900', async () => {
  await register(page, USER, 'Erin Sidebar')
  await expect(page.getByTestId('sidebar')).toBeVisible()

  // 29 through the API, with a session of the test's own (the app keeps its token in memory).
  const auth = await page.request.post(at('api/v1/auth/login'), {
    data: { username: USER, password: PASSWORD },
  })
  expect(auth.ok()).toBe(true)
  const { access_token: token } = (await auth.json()) as { access_token: string }
  for (let i = 1; i <= 29; i++) {
    const created = await page.request.post(at('api/v1/conversations'), {
      headers: { Authorization: `Bearer ${token}` },
      data: { title: `Daily note ${i}` },
    })
    expect(created.ok(), `conversation ${i}: ${created.status()}`).toBe(true)
  }
  // The 30th through the chat, with a word the search finds.
  await page.reload({ waitUntil: 'domcontentloaded' })
  await send(page, 'What do quokkas eat on Rottnest Island? [[tokens:6]]')
  await waitAnswer(page)
  await expect(links()).toHaveCount(30)

  const visible = await page.evaluate(() => {
    const list = document.querySelector('[data-testid="sidebar"] nav')!.getBoundingClientRect()
    return [...document.querySelectorAll('[data-testid="conversation-link"]')].filter((link) => {
      const box = link.getBoundingClientRect()
      return box.top >= list.top - 0.5 && box.bottom <= list.bottom + 0.5 && box.height > 0
    }).length
  })
  expect(visible, 'conversations wholly visible in the sidebar').toBeGreaterThanOrEqual(20)
  await shot(page, 'side-01-sidebar-30')
})

test('the user menu holds the other pages: a keyboard menu button', async () => {
  const button = page.getByTestId('user-menu')
  const menu = page.getByRole('menu')
  await expect(page.getByTestId('user-name')).toHaveText('Erin Sidebar')
  await expect(page.getByTestId('nav-settings'), 'a link outside the menu').toBeHidden()

  await button.focus()
  await page.keyboard.press('Enter')
  await expect(button).toHaveAttribute('aria-expanded', 'true')
  await expect(menu).toBeVisible()
  await expect(menu.getByRole('menuitem')).toHaveText([
    'Collector',
    'Import a conversation',
    'Settings',
    'API reference',
    'Sign out',
  ])
  await expect(page.getByTestId('nav-admin'), 'a plain user sees administration').toHaveCount(0)
  await expect(page.getByTestId('nav-collector')).toBeFocused()
  await page.keyboard.press('ArrowDown')
  await expect(page.getByTestId('import-conversation')).toBeFocused()
  await page.keyboard.press('End')
  await expect(page.getByTestId('sign-out')).toBeFocused()
  await page.keyboard.press('ArrowDown')
  await expect(page.getByTestId('nav-collector'), 'ArrowDown wraps').toBeFocused()
  await shot(page, 'side-02-user-menu')
  await page.keyboard.press('Escape')
  await expect(menu).toBeHidden()
  await expect(button).toBeFocused()
  await expect(button).toHaveAttribute('aria-expanded', 'false')

  await nav(page, 'nav-settings')
  await expect(page).toHaveURL(/\/settings$/)
  await expect(menu, 'the menu stayed open after choosing').toBeHidden()
  await page.getByTestId('brand').click()
  await expect(page.getByTestId('welcome')).toBeVisible()
})

test('archive, then "Undo" on the toast: the conversation is back', async () => {
  const row = item('Daily note 5')
  await openItemMenu(row)
  await page.getByTestId('menu-archive').click()
  await expect(row).toHaveCount(0)
  const toast = page.getByTestId('toast').filter({ hasText: 'Conversation archived' })
  await expect(toast.getByTestId('toast-action')).toHaveText('Undo')
  await shot(page, 'side-04-undo-toast')
  await toast.getByTestId('toast-action').click()
  await expect(row).toBeVisible()
  await reloadList()
  await expect(item('Daily note 5'), 'still archived at the server').toBeVisible()
})

test('delete, then "Undo": nothing is deleted, also after the delay and a reload', async () => {
  const row = item('Daily note 6')
  await deleteItem(row)
  const toast = page.getByTestId('toast').filter({ hasText: 'Conversation deleted' })
  await toast.getByTestId('toast-action').click()
  await expect(row).toBeVisible()
  await page.waitForTimeout(UNDO_MS + 1_000) // the delete would have been sent by now
  await reloadList()
  await expect(item('Daily note 6')).toBeVisible()
})

test('delete without "Undo": done after the delay, also when the user moves on', async () => {
  await test.step('moving to another page of the app within the delay', async () => {
    const row = item('Daily note 7')
    const sent = deleteSent(await idOf(row))
    await deleteItem(row)
    await nav(page, 'nav-settings')
    expect((await sent).ok()).toBe(true)
    await page.getByTestId('brand').click()
    await reloadList()
    await expect(item('Daily note 7')).toHaveCount(0)
  })
  await test.step('reloading the page within the delay', async () => {
    const row = item('Daily note 8')
    const id = await idOf(row)
    await deleteItem(row)
    const sent = deleteSent(id)
    await page.reload({ waitUntil: 'domcontentloaded' })
    await expect.poll(() => links().count()).toBeGreaterThan(10)
    await expect(item('Daily note 8'), 'back after the reload').toHaveCount(0)
    expect((await sent).ok()).toBe(true)
    await reloadList()
    await expect(item('Daily note 8')).toHaveCount(0)
  })
})

test('double-click a title to rename it: Enter saves, Escape and an empty title do not', async () => {
  const title = (text: string) =>
    page.getByTestId('conversation-title').getByText(text, { exact: true })
  const input = page.getByTestId('rename-input')

  await title('Daily note 10').dblclick()
  await expect(input).toBeFocused()
  await expect(input).toHaveValue('Daily note 10')
  await input.fill('Not kept')
  await input.press('Escape')
  await expect(input).toHaveCount(0)
  await expect(title('Daily note 10')).toBeVisible()

  await title('Daily note 10').dblclick()
  await input.fill('   ')
  await input.press('Enter')
  await expect(title('Daily note 10'), 'an empty title was saved').toBeVisible()

  await title('Daily note 10').dblclick()
  await input.fill('Renamed by double-click')
  await input.press('Enter')
  await expect(title('Renamed by double-click')).toBeVisible()
  await reloadList()
  await expect(title('Renamed by double-click')).toBeVisible()
  await expect(title('Not kept')).toHaveCount(0)
})

test.describe('the admin pages on a 390 px phone', () => {
  let phone: BrowserContext
  let mobile: Page
  let mobileProblems: string[] = []

  test.beforeAll(async ({ browser }) => {
    phone = await newContext(browser, {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    })
    mobile = await phone.newPage()
    mobileProblems = watch(mobile)
  })

  test.afterAll(async () => {
    await phone?.close()
  })

  test('every admin tab label is whole and on the screen, the first one too', async () => {
    await login(mobile, ALICE)
    await expect(mobile.getByTestId('composer')).toBeVisible()
    await mobile.goto(at('admin?tab=status'), { waitUntil: 'domcontentloaded' })
    const tabs = mobile.getByRole('tab')
    await expect(tabs).toHaveCount(12)
    for (const tab of await tabs.all()) {
      await expect(tab).toBeInViewport({ ratio: 1 })
      const clipped = await tab.evaluate((el) => el.scrollWidth > el.clientWidth)
      expect(clipped, `the label "${await tab.innerText()}" is cut`).toBe(false)
    }
    await expect(tabs.first()).toHaveText('Models')
    await shot(mobile, 'side-05-admin-tabs-390')
  })

  test('the usage chart: labels that do not overlap, in a readable size', async () => {
    await mobile.getByTestId('admin-tab-usage').click()
    const chart = mobile.getByTestId('usage-chart')
    await expect(chart).toBeVisible()
    const labels = await chart.locator('text').evaluateAll((nodes) =>
      nodes.map((node) => {
        const box = node.getBoundingClientRect()
        return {
          text: node.textContent?.trim() ?? '',
          left: box.left,
          right: box.right,
          top: box.top,
          bottom: box.bottom,
          size: parseFloat(getComputedStyle(node).fontSize),
        }
      }),
    )
    const chartBox = (await chart.boundingBox())!
    expect(labels.length).toBeGreaterThan(1)
    for (const label of labels) {
      expect(label.size, `"${label.text}" is too small`).toBeGreaterThanOrEqual(11)
      expect(label.bottom - label.top, `"${label.text}" is drawn too small`).toBeGreaterThanOrEqual(
        10,
      )
      expect(label.left, `"${label.text}" sticks out`).toBeGreaterThanOrEqual(chartBox.x - 0.5)
      expect(label.right, `"${label.text}" sticks out`).toBeLessThanOrEqual(
        chartBox.x + chartBox.width + 0.5,
      )
    }
    for (let i = 0; i < labels.length; i++) {
      for (let j = i + 1; j < labels.length; j++) {
        const [a, b] = [labels[i]!, labels[j]!]
        const overlap = a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom
        expect(overlap, `"${a.text}" and "${b.text}" overlap`).toBe(false)
      }
    }
    await shot(mobile, 'side-06-usage-390', true)
    await mobile.emulateMedia({ colorScheme: 'dark' })
    await shot(mobile, 'side-07-usage-390-dark', true)
    expect(mobileProblems, mobileProblems.join('; ')).toEqual([])
  })
})

// Needs the server of issue 18 (`ConversationItem.snippet`); the frozen binary has no snippet.
test('the keyword search shows the matching text under the title, the keyword marked', async () => {
  await page.getByTestId('search').fill('quokkas')
  await expect(links()).toHaveCount(1)
  const snippet = page.getByTestId('conversation-snippet')
  await expect(snippet).toContainText('What do quokkas eat')
  await expect(snippet.locator('mark').first()).toHaveText(/^quokkas$/i)
  await shot(page, 'side-03-search-snippet')
  await page.getByTestId('search').fill('')
  await expect.poll(() => links().count()).toBeGreaterThan(10)
})

test('no script errors and no unexpected failed requests', async () => {
  expect(problems, problems.join('; ')).toEqual([])
})
