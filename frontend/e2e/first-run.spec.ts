// The first run, on a server of its own with an EMPTY database (.ci/e2e starts it with
// DAEHWA_URL and FAKE_LLM_URL): the first page says no account exists yet and leads to
// creating the administrator; a first connection Test with a wrong URL fails clearly, the
// corrected Test and Save leave the models enabled, and the first question gets an answer
// (issue 18, item 1: the dead end was "Welcome back / Sign in", then "No model available").
import { expect, test, type BrowserContext, type Page } from '@playwright/test'

import {
  PASSWORD,
  at,
  baseUrl,
  expectAccessible,
  fakeUrl,
  newContext,
  send,
  shot,
  waitAnswer,
  watch,
} from './helpers'

test.describe.configure({ mode: 'serial' })

const ADMIN = `admin_${process.env.E2E_SUFFIX}`
let context: BrowserContext
let page: Page
let problems: string[] = []

test.beforeAll(async ({ browser }) => {
  context = await newContext(browser)
  page = await context.newPage()
  problems = watch(page)
})

test.afterAll(async () => {
  await context?.close()
})

test.describe('first run', () => {
  test('an empty server welcomes and leads to creating the administrator', async () => {
    await page.goto(baseUrl, { waitUntil: 'domcontentloaded' })
    const welcome = page.getByTestId('first-run')
    await expect(welcome).toBeVisible()
    await expect(welcome.getByRole('heading', { level: 1 })).toHaveText('Welcome to daehwa')
    await expect(welcome).toContainText('No account exists on this server yet')
    await expect(page.getByTestId('login-form'), 'a sign-in form with no account').toHaveCount(0)
    await shot(page, '01-welcome')
    await expectAccessible(page, 'the first-run welcome')
    await page.emulateMedia({ colorScheme: 'dark' })
    await expectAccessible(page, 'the first-run welcome (dark)')
    await page.setViewportSize({ width: 390, height: 844 })
    await shot(page, '01b-welcome-phone-dark')
    await page.setViewportSize({ width: 1280, height: 800 })
    await page.emulateMedia({ colorScheme: 'light' })

    await page.getByTestId('first-run-start').click()
    await expect(page).toHaveURL(/\/register$/)
    await expect(page.getByRole('heading', { level: 1 })).toHaveText(
      'Create the administrator account',
    )
    await expect(page.getByTestId('register-form')).toHaveAttribute('data-first-account', 'true')
    await expect(page.getByTestId('to-login'), 'no "sign in instead" without accounts').toHaveCount(
      0,
    )
    await shot(page, '02-register-admin')
    await expectAccessible(page, 'the administrator’s registration')
  })

  test('the administrator registers and lands in the app', async () => {
    await page.getByTestId('register-username').fill(ADMIN)
    await page.getByTestId('register-display-name').fill('Admin')
    await page.getByTestId('register-password').fill(PASSWORD)
    await page.getByTestId('register-submit').click()
    await expect(page.getByTestId('composer').or(page.getByTestId('setup')).first()).toBeVisible()
    await expect(page.getByTestId('user-name')).toHaveText('Admin')
  })

  test('Admin → Connections: a wrong URL fails clearly; corrected, Test and Save enable the models', async () => {
    await page.goto(at('admin?tab=connections'), { waitUntil: 'domcontentloaded' })
    await page.getByTestId('add-connection').click()
    const form = page.getByTestId('connection-form')
    await form.getByTestId('preset-compatible').check()
    await form.getByTestId('connection-name').fill('Fake LLM')
    await form.getByTestId('connection-url').fill('http://127.0.0.1:9/v1')
    await form.getByTestId('connection-test').click()
    const result = form.getByTestId('test-result')
    await expect(result).toHaveClass(/bad/, { timeout: 30_000 })
    await expect(result).toContainText('Could not reach the provider at this address')
    await result.scrollIntoViewIfNeeded()
    await shot(page, '03-connection-wrong-url')

    await form.getByTestId('connection-url').fill(`${fakeUrl}/v1`)
    await form.getByTestId('connection-test').click()
    await expect(result).toHaveClass(/ok/, { timeout: 30_000 })
    await expect(result).toHaveText(/works/i)
    await expect(form.getByTestId('models-enabled')).toContainText(/\d+ models are enabled/)
    await result.scrollIntoViewIfNeeded()
    await shot(page, '04-connection-works')
    await form.getByTestId('connection-save').click()

    const connection = page.getByTestId('connection').filter({ hasText: 'Fake LLM' })
    await expect(connection).toBeVisible()
    const rows = connection.getByTestId('model-row')
    await expect(rows.first()).toBeVisible()
    for (const box of await rows.locator('input[type="checkbox"]').all()) {
      await expect(box).toBeChecked()
    }
    await shot(page, '05-connection-saved')
  })

  test('a question gets an answer: no "No model available"', async () => {
    await page.goto(baseUrl, { waitUntil: 'domcontentloaded' })
    await expect(page.getByTestId('composer')).toBeEnabled()
    await expect(page.getByText('No model available')).toHaveCount(0)
    await send(page, 'Hello from the first run')
    expect(await waitAnswer(page)).toMatch(/Token0/)
    await shot(page, '06-first-answer')
  })

  test('after the first account, the sign-in page is the usual one', async ({ browser }) => {
    const visitor = await newContext(browser)
    const guest = await visitor.newPage()
    await guest.goto(at('login'), { waitUntil: 'domcontentloaded' })
    await expect(guest.getByTestId('login-form')).toBeVisible()
    await expect(guest.getByTestId('first-run')).toHaveCount(0)
    await visitor.close()
  })

  test('no script errors and no unexpected failed requests', () => {
    expect(problems).toEqual([])
  })
})
