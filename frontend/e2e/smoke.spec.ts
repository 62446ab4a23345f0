// Browser smoke test of the built app, served by daehwa (or e2e/static-server.mjs): the shell
// only, no sign-in and no model needed.
//   DAEHWA_URL=http://127.0.0.1:8123/chat/ npm run e2e:smoke
import { expect, test, type Page } from '@playwright/test'

import { baseUrl, newContext, overflow, shot, watch } from './helpers'

const EN_TAGLINE = 'Your own chat with AI models'
const KO_TAGLINE = '내 컴퓨터에서 실행되는'
/** No session yet: the start-up refresh answers 401, as it should. */
const EXPECTED = [/^401 .*\/api\/v1\/auth\/refresh$/]

test.describe.configure({ mode: 'serial' })

/** The app shell is up: a visitor without a session gets the sign-in form. */
async function healthy(page: Page) {
  // An empty server welcomes its first user; one with accounts shows the sign-in form.
  await expect(page.getByTestId('login-form').or(page.getByTestId('first-run'))).toBeVisible()
}

test.describe('desktop, an English browser', () => {
  let page: Page
  let problems: string[] = []

  test.beforeAll(async ({ browser }) => {
    const desktop = await newContext(browser)
    page = await desktop.newPage()
    problems = watch(page, EXPECTED, true)
  })

  test.afterAll(async () => {
    await page?.context().close()
  })

  test('the app loads and shows the sign-in form', async () => {
    const response = await page.goto(baseUrl, { waitUntil: 'domcontentloaded' })
    expect(response?.ok(), `GET ${baseUrl} answered ${response?.status()}`).toBe(true)
    await healthy(page)
    await shot(page, 'home-desktop', true)
  })

  test('product name and tagline are shown', async () => {
    await expect(page.getByTestId('brand')).toHaveText(/daehwa/)
    await expect(page.getByTestId('brand')).toHaveText(/대화/)
    await expect(page.getByTestId('tagline')).toContainText(EN_TAGLINE)
  })

  test('the health API answers under the base path', async () => {
    const health = await page.evaluate(async () => {
      const base = new URL('./', document.baseURI).pathname
      return (await fetch(`${base}api/v1/health`)).json()
    })
    expect(health.db).toBe('ok')
    expect(health.version).toMatch(/^\d+\.\d+\.\d+/)
  })

  test('a deep link renders the app and asks to sign in first', async () => {
    const url = `${baseUrl}c/123`
    const response = await page.goto(url, { waitUntil: 'domcontentloaded' })
    expect(response?.ok(), `GET ${url} answered ${response?.status()}`).toBe(true)
    await healthy(page)
    await expect(page.getByTestId('brand')).toContainText('daehwa')
    const landed = new URL(page.url())
    expect(landed.pathname).toMatch(/\/login$/)
    expect(landed.searchParams.get('redirect')).toBe('/c/123')
    await shot(page, 'deep-link', true)
  })

  test('switching to 한국어 changes the text and <html lang>', async () => {
    await page.getByTestId('lang-ko').click()
    await expect(page.getByTestId('tagline')).toContainText(KO_TAGLINE)
    await expect(page.locator('html')).toHaveAttribute('lang', 'ko')
    await shot(page, 'korean-desktop', true)
  })

  test('the language choice survives a reload', async () => {
    await page.reload({ waitUntil: 'domcontentloaded' })
    await healthy(page)
    await expect(page.getByTestId('tagline')).toContainText(KO_TAGLINE)
  })

  test('no script errors and no failed requests', async () => {
    expect(problems, problems.join('; ')).toEqual([])
  })
})

test.describe('phone width, a Korean browser', () => {
  let mobile: Page

  test.beforeAll(async ({ browser }) => {
    const phone = await newContext(browser, {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: 'ko-KR',
    })
    mobile = await phone.newPage()
  })

  test.afterAll(async () => {
    await mobile?.context().close()
  })

  test('a Korean browser starts in Korean, at phone width without overflow', async () => {
    await mobile.goto(baseUrl, { waitUntil: 'domcontentloaded' })
    await healthy(mobile)
    await expect(mobile.getByTestId('tagline')).toContainText(KO_TAGLINE)
    expect(await overflow(mobile), 'wider than the screen').toBeLessThanOrEqual(0)
    await shot(mobile, 'home-phone', true)
  })

  test('dark mode renders', async () => {
    await mobile.emulateMedia({ colorScheme: 'dark' })
    await mobile.getByTestId('lang-en').click()
    await expect(mobile.getByTestId('tagline')).toContainText(EN_TAGLINE)
    await expect(mobile.locator('body')).not.toHaveCSS('background-color', 'rgb(246, 247, 245)')
    await shot(mobile, 'home-phone-dark', true)
  })
})
