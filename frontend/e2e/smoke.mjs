// Browser smoke test of the built app, served by daehwa (or e2e/static-server.mjs):
//   DAEHWA_URL=http://127.0.0.1:8123/chat/ node e2e/smoke.mjs
// Drives Debian's Chromium through playwright-core (no browser download). Every check is
// counted; the last line is `N passed, M failed`, and any failure exits 1.
// Env: DAEHWA_URL (default http://127.0.0.1:8080/), CHROMIUM_PATH (default /usr/bin/chromium),
// SCREENSHOT_DIR (default e2e/screenshots).
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { chromium } from 'playwright-core'

const TIMEOUT = 15_000
const baseUrl = withSlash(process.env.DAEHWA_URL || 'http://127.0.0.1:8080/')
const screenshotDir =
  process.env.SCREENSHOT_DIR || fileURLToPath(new URL('./screenshots/', import.meta.url))

const EN_TAGLINE = 'Your own chat with AI models'
const KO_TAGLINE = '내 컴퓨터에서 실행되는'

let passed = 0
let failed = 0
/** Set when the app did not load at all: the later checks are then failed at once. */
let abandoned = ''

function withSlash(url) {
  return url.endsWith('/') ? url : `${url}/`
}

/** Runs one named check; a failure is reported and counted, and the run goes on. */
async function check(name, fn, { essential = false } = {}) {
  if (abandoned) {
    failed += 1
    console.log(`FAIL ${name}: not run (${abandoned})`)
    return
  }
  try {
    await fn()
    passed += 1
    console.log(`ok   ${name}`)
  } catch (error) {
    failed += 1
    const message = error instanceof Error ? error.message.split('\n')[0] : String(error)
    console.log(`FAIL ${name}: ${message}`)
    if (essential) abandoned = 'the app did not load'
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message)
}

async function shot(page, name) {
  await page.screenshot({ path: join(screenshotDir, `${name}.png`), fullPage: true })
}

/** Records what went wrong in a page: script errors and failed same-origin requests. */
function watch(page) {
  const problems = []
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('response', (response) => {
    // No session yet: the start-up refresh answers 401, as it should.
    if (response.url().endsWith('/api/v1/auth/refresh') && response.status() === 401) return
    if (response.status() >= 400 && response.url().startsWith(new URL(baseUrl).origin)) {
      problems.push(`${response.status()} ${response.url()}`)
    }
  })
  page.on('requestfailed', (request) => {
    problems.push(`request failed: ${request.url()} (${request.failure()?.errorText})`)
  })
  return problems
}

/** The app shell is up: a visitor without a session gets the sign-in form. */
async function waitHealthy(page) {
  await page.getByTestId('login-form').waitFor({ state: 'visible', timeout: TIMEOUT })
}

async function main() {
  await mkdir(screenshotDir, { recursive: true })
  console.log(`smoke test of ${baseUrl} (screenshots in ${screenshotDir})`)

  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH || '/usr/bin/chromium',
    args: [
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
    timeout: TIMEOUT,
  })

  try {
    // Desktop, an English browser.
    const desktop = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      locale: 'en-US',
    })
    desktop.setDefaultTimeout(TIMEOUT)
    const page = await desktop.newPage()
    const problems = watch(page)

    await check(
      'the app loads and shows the sign-in form',
      async () => {
        const response = await page.goto(baseUrl, { waitUntil: 'domcontentloaded' })
        assert(response?.ok(), `GET ${baseUrl} answered ${response?.status()}`)
        await waitHealthy(page)
        await shot(page, 'home-desktop')
      },
      { essential: true },
    )

    await check('product name and tagline are shown', async () => {
      const brand = await page.getByTestId('brand').innerText()
      assert(/daehwa/.test(brand) && /대화/.test(brand), `brand reads "${brand}"`)
      const tagline = await page.getByTestId('tagline').innerText()
      assert(tagline.includes(EN_TAGLINE), `English browser got tagline "${tagline}"`)
    })

    await check('the health API answers under the base path', async () => {
      const health = await page.evaluate(async () => {
        const base = new URL('./', document.baseURI).pathname
        return (await fetch(`${base}api/v1/health`)).json()
      })
      assert(health.db === 'ok', `database reads "${health.db}"`)
      assert(/^\d+\.\d+\.\d+/.test(health.version), `version reads "${health.version}"`)
    })

    await check('a deep link renders the app and asks to sign in first', async () => {
      const url = `${baseUrl}c/123`
      const response = await page.goto(url, { waitUntil: 'domcontentloaded' })
      assert(response?.ok(), `GET ${url} answered ${response?.status()}`)
      await waitHealthy(page)
      const brand = await page.getByTestId('brand').innerText()
      assert(brand.includes('daehwa'), `brand reads "${brand}"`)
      const landed = new URL(page.url())
      assert(landed.pathname.endsWith('/login'), `landed on ${page.url()}`)
      assert(landed.searchParams.get('redirect') === '/c/123', `redirect is ${landed.search}`)
      await shot(page, 'deep-link')
    })

    await check('switching to 한국어 changes the text and <html lang>', async () => {
      await page.getByTestId('lang-ko').click()
      await page
        .getByTestId('tagline')
        .filter({ hasText: KO_TAGLINE })
        .waitFor({ state: 'visible' })
      const lang = await page.locator('html').getAttribute('lang')
      assert(lang === 'ko', `<html lang> is "${lang}"`)
      await shot(page, 'korean-desktop')
    })

    await check('the language choice survives a reload', async () => {
      await page.reload({ waitUntil: 'domcontentloaded' })
      await waitHealthy(page)
      const tagline = await page.getByTestId('tagline').innerText()
      assert(tagline.includes(KO_TAGLINE), `after reload the tagline is "${tagline}"`)
    })

    await check('no script errors and no failed requests', async () => {
      assert(problems.length === 0, problems.join('; '))
    })
    await desktop.close()

    // Phone width, a Korean browser.
    const phone = await browser.newContext({
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: 'ko-KR',
    })
    phone.setDefaultTimeout(TIMEOUT)
    const mobile = await phone.newPage()

    await check('a Korean browser starts in Korean, at phone width without overflow', async () => {
      await mobile.goto(baseUrl, { waitUntil: 'domcontentloaded' })
      await waitHealthy(mobile)
      const tagline = await mobile.getByTestId('tagline').innerText()
      assert(tagline.includes(KO_TAGLINE), `Korean browser got tagline "${tagline}"`)
      const overflow = await mobile.evaluate(
        () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
      )
      assert(overflow <= 0, `page is ${overflow}px wider than the screen`)
      await shot(mobile, 'home-phone')
    })

    await check('dark mode renders', async () => {
      await mobile.emulateMedia({ colorScheme: 'dark' })
      await mobile.getByTestId('lang-en').click()
      await mobile.getByTestId('tagline').filter({ hasText: EN_TAGLINE }).waitFor()
      const background = await mobile.evaluate(
        () => getComputedStyle(document.body).backgroundColor,
      )
      assert(background !== 'rgb(246, 247, 245)', `body background stayed light: ${background}`)
      await shot(mobile, 'home-phone-dark')
    })
    await phone.close()
  } finally {
    await browser.close()
  }
}

try {
  await main()
} catch (error) {
  failed += 1
  console.log(`FAIL smoke test could not run: ${error instanceof Error ? error.message : error}`)
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
