// Shared pieces of the browser tests (chat.spec.ts with features.ts, smoke.spec.ts).
import { join } from 'node:path'

import {
  expect,
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  type Page,
} from '@playwright/test'

/** What the chat flow's tests share: the browser, Alice's page, the first conversation. */
export interface Flow {
  browser: Browser
  desktop: BrowserContext
  page: Page
  conversationUrl: string
}

/** The server under test, always with a trailing slash (it may live under a base path). */
export const baseUrl = withSlash(process.env.DAEHWA_URL || 'http://127.0.0.1:8080/')
/** The server lives under a base path (.ci/e2e runs the flow at `/` and under `/chat/`). */
export const underBasePath = new URL(baseUrl).pathname !== '/'
/** The Rust fake LLM's root (the connection gets `<root>/v1`). */
export const fakeUrl = rootOf(process.env.FAKE_LLM_URL || 'http://127.0.0.1:9090')
/**
 * A second fake LLM (`fake-llm --models fake-gpt,fake-gpt-mini`), added by the admin as a
 * second connection. Optional: without it the flow stays on the first connection.
 */
export const secondFakeUrl = process.env.FAKE_LLM_URL_2 ? rootOf(process.env.FAKE_LLM_URL_2) : ''
export const SECOND_MODEL = 'fake-gpt'

export const screenshotDir = process.env.SCREENSHOT_DIR || 'e2e/screenshots'
export const TIMEOUT = 15_000
export const STREAM_TIMEOUT = 45_000

export const PASSWORD = 'correct-horse-42'
// playwright.config.ts sets E2E_SUFFIX once per run, so every worker names the same users;
// the suffix lets the flow run twice against one server.
const suffix = process.env.E2E_SUFFIX || Date.now().toString(36).slice(-5)
export const ALICE = `alice_${suffix}`
export const BOB = `bob_${suffix}`
export const CAROL = `carol_${suffix}`
export const DAVE = `dave_${suffix}`

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`
}

function rootOf(url: string): string {
  return url.replace(/\/+$/, '').replace(/\/v1$/, '')
}

/** A full URL of a path of the app (relative to the base path). */
export function at(path = ''): string {
  return `${baseUrl}${path}`
}

export async function shot(page: Page, name: string, fullPage = false): Promise<void> {
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage })
}

export async function newContext(
  browser: Browser,
  options: BrowserContextOptions = {},
): ReturnType<Browser['newContext']> {
  const context = await browser.newContext({
    viewport: { width: 1280, height: 800 },
    locale: 'en-US',
    colorScheme: 'light',
    ...options,
  })
  context.setDefaultTimeout(TIMEOUT)
  return context
}

/** Answers expected to fail: no session at start, a deliberately wrong form, a 404 test. */
export const EXPECTED: RegExp[] = [
  /^401 .*\/api\/v1\/auth\/refresh$/,
  /^422 .*\/api\/v1\/auth\/register$/,
  /^404 .*\/api\/v1\/conversations\/[^/]+$/,
  /^40[39] .*\/api\/v1\/auth\/login$/,
  // The feature flows (features.ts):
  /^404 .*\/api\/v1\/shares\/[^/]+$/, // the deleted share link
  /^429 .*\/api\/v1\/conversations\/[^/]+\/messages$/, // the plan's daily limit
  /^403 .*\/api\/v1\/conversations\/[^/]+\/messages$/, // a model outside the plan
  /^40[13] .*\/api\/v1\/auth\/refresh$/,
]

/** Script errors and failed same-origin requests, except the expected ones. */
export function watch(page: Page, expected: RegExp[] = EXPECTED, failedRequests = false) {
  const problems: string[] = []
  const origin = new URL(baseUrl).origin
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('response', (response) => {
    const url = response.url()
    if (response.status() < 400 || !url.startsWith(origin)) return
    if (expected.some((pattern) => pattern.test(`${response.status()} ${url}`))) return
    problems.push(`${response.status()} ${url}`)
  })
  if (failedRequests) {
    page.on('requestfailed', (request) => {
      problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`)
    })
  }
  return problems
}

export const lastAnswer = (page: Page) => page.getByTestId('assistant-message').last()

/** Waits until the last answer has `status`; returns its text. */
export async function waitAnswer(
  page: Page,
  status = 'complete',
  timeout = STREAM_TIMEOUT,
): Promise<string> {
  const answer = lastAnswer(page)
  await expect(answer).toHaveAttribute('data-status', status, { timeout })
  return answerText(page)
}

/** The last answer's text so far ('' before the first token). */
export async function answerText(page: Page): Promise<string> {
  const content = lastAnswer(page).getByTestId('message-content')
  return (await content.count()) ? (await content.innerText()).trim() : ''
}

export async function send(page: Page, text: string): Promise<void> {
  const box = page.getByTestId('composer')
  await box.fill(text)
  await box.press('Enter')
}

export async function register(page: Page, username: string, displayName?: string) {
  await page.goto(at('register'), { waitUntil: 'domcontentloaded' })
  await page.getByTestId('register-username').fill(username)
  if (displayName) await page.getByTestId('register-display-name').fill(displayName)
  await page.getByTestId('register-password').fill(PASSWORD)
  await page.getByTestId('register-submit').click()
}

export async function login(page: Page, username: string, password = PASSWORD) {
  await page.goto(at('login'), { waitUntil: 'domcontentloaded' })
  await page.getByTestId('login-username').fill(username)
  await page.getByTestId('login-password').fill(password)
  await page.getByTestId('login-submit').click()
}

/**
 * Picks the UI language on a signed-in page and waits until the server has saved it: the
 * language is the account's, and the next page or spec of the same user loads it from there.
 */
export async function chooseLanguage(page: Page, code: 'ko' | 'en'): Promise<void> {
  const saved = page.waitForResponse(
    (response) =>
      response.request().method() === 'PUT' &&
      new URL(response.url()).pathname.endsWith('/api/v1/user/settings'),
  )
  await page.getByTestId(`lang-${code}`).click()
  expect((await saved).ok(), 'the language was not saved').toBe(true)
}

export async function toast(page: Page, text: string): Promise<void> {
  await expect(page.getByTestId('toast').filter({ hasText: text }).first()).toBeVisible()
}

/** How many pixels the page is wider than the screen (0 when nothing sticks out). */
export async function overflow(page: Page): Promise<number> {
  return page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  )
}

/** Waits until the element's CSS transitions and animations are over. */
export async function settled(page: Page, testId: string): Promise<void> {
  await expect
    .poll(() => page.getByTestId(testId).evaluate((el) => el.getAnimations().length))
    .toBe(0)
}

/**
 * Clicks an item of the user menu at the foot of the sidebar (`nav-settings`, `nav-admin`,
 * `sign-out`, …), opening the phone's drawer and the menu first when the item is hidden.
 */
export async function nav(page: Page, testId: string): Promise<void> {
  const item = page.getByTestId(testId)
  if (!(await item.isVisible())) {
    if (!(await page.getByTestId('sidebar').isVisible())) {
      await page.getByTestId('open-sidebar').click()
    }
    await page.getByTestId('user-menu').click()
  }
  await item.click()
}

/**
 * Runs axe-core on the page as it is and fails on every "critical" or "serious" finding, one
 * readable line each (rule, element, what to fix). `soft`: record the failure and go on, so
 * one run lists the findings of every page.
 *
 * Legacy mode runs axe once in the page. The default mode runs it in every frame and then
 * again in a blank page it opens to merge the results. With only violations collected (axe
 * skips the details of what passed), a check takes 0.65 s instead of 1.6 s on a 2-core
 * machine, where daily-ux.spec.ts makes 54 of them.
 * Legacy mode does not reach into frames (checked: a button without a name inside an iframe
 * went unreported), so a page with a frame fails here; the app has none (the Markdown
 * sanitizer forbids them).
 */
export async function expectAccessible(
  page: Page,
  name: string,
  { soft = false }: { soft?: boolean } = {},
): Promise<void> {
  const { AxeBuilder } = await import('@axe-core/playwright')
  await expect(
    page.locator('iframe'),
    `${name}: a frame, which axe's legacy mode skips`,
  ).toHaveCount(0)
  const results = await new AxeBuilder({ page })
    .setLegacyMode()
    .options({ resultTypes: ['violations'] })
    .analyze()
  const findings = results.violations
    .filter((violation) => violation.impact === 'critical' || violation.impact === 'serious')
    .flatMap((violation) =>
      violation.nodes.map((node) => {
        const why = (node.failureSummary ?? violation.help).replace(/\s+/g, ' ').trim()
        return `${violation.impact} ${violation.id} at ${node.target.join(' > ')}: ${why}`
      }),
    )
  const check = soft ? expect.soft : expect
  check(findings, `axe-core on ${name}: ${findings.length} critical/serious finding(s)`).toEqual([])
}
