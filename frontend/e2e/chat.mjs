// End-to-end test of the web app against the real daehwa binary (fresh database) and a fake
// OpenAI-compatible upstream, in Debian's headless Chromium through playwright-core:
//   DAEHWA_URL=http://127.0.0.1:8080/ FAKE_LLM_URL=http://127.0.0.1:9090 node e2e/chat.mjs
// FAKE_LLM_URL is the fake's root (the connection gets `<root>/v1`): the Rust `fake-llm`,
// whose answers are plain "Token0 Token1 …". The small fake in e2e/fake-openai.mjs is always
// started in this process too and added as a second connection from the admin page: its
// answers carry Markdown and a code block, for the rendering check. Without FAKE_LLM_URL the
// small fake serves both roles. Every check is counted and the last
// line is `N passed, M failed` (exit 1 on any failure); every wait is bounded.
// Env: DAEHWA_URL, FAKE_LLM_URL, CHROMIUM_PATH (/usr/bin/chromium), SCREENSHOT_DIR
// (e2e/screenshots), E2E_ONLY (a regular expression: run only the checks whose name matches,
// plus the ones they depend on being skipped gracefully).
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { chromium } from 'playwright-core'

import { createFake } from './fake-openai.mjs'
import { FEATURE_EXPECTED, runFeatureChecks } from './features.mjs'

const TIMEOUT = 15_000
const STREAM_TIMEOUT = 45_000
const baseUrl = withSlash(process.env.DAEHWA_URL || 'http://127.0.0.1:8080/')
const screenshotDir =
  process.env.SCREENSHOT_DIR || fileURLToPath(new URL('./screenshots/', import.meta.url))
const only = process.env.E2E_ONLY ? new RegExp(process.env.E2E_ONLY, 'i') : null

const PASSWORD = 'correct-horse-42'
const suffix = Date.now().toString(36).slice(-5)
const ALICE = `alice_${suffix}`
const BOB = `bob_${suffix}`
const CAROL = `carol_${suffix}`
const DAVE = `dave_${suffix}`

let passed = 0
let failed = 0
let abandoned = ''

function withSlash(url) {
  return url.endsWith('/') ? url : `${url}/`
}

async function check(name, fn, { essential = false } = {}) {
  if (only && !only.test(name)) return
  if (abandoned) {
    failed += 1
    console.log(`FAIL ${name}: not run (${abandoned})`)
    return
  }
  const started = Date.now()
  try {
    await fn()
    passed += 1
    console.log(`ok   ${name} (${Date.now() - started} ms)`)
  } catch (error) {
    failed += 1
    const lines = error instanceof Error ? error.message.split('\n') : [String(error)]
    // Playwright's first line says what timed out; the "waiting for" line says on which element.
    const waiting = lines.find((line) => /waiting for/.test(line))?.trim()
    const message = waiting ? `${lines[0]} (${waiting})` : lines[0]
    console.log(`FAIL ${name}: ${message}`)
    if (essential) abandoned = `an essential step failed: ${name}`
  }
}

function assert(condition, message) {
  if (!condition) throw new Error(message)
}

async function shot(page, name) {
  await page.screenshot({ path: join(screenshotDir, `${name}.png`) })
}

/** Script errors and failed same-origin requests, except the expected ones. */
function watch(page, expected = []) {
  const problems = []
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`))
  page.on('response', (response) => {
    const url = response.url()
    if (response.status() < 400 || !url.startsWith(new URL(baseUrl).origin)) return
    if (expected.some((pattern) => pattern.test(`${response.status()} ${url}`))) return
    problems.push(`${response.status()} ${url}`)
  })
  return problems
}

/** Answers expected to fail: no session at start, a deliberately wrong form, a 404 test. */
const EXPECTED = [
  /^401 .*\/api\/v1\/auth\/refresh$/,
  /^422 .*\/api\/v1\/auth\/register$/,
  /^404 .*\/api\/v1\/conversations\/[^/]+$/,
  /^40[39] .*\/api\/v1\/auth\/login$/,
  ...FEATURE_EXPECTED,
]

async function until(fn, message, timeout = TIMEOUT) {
  const end = Date.now() + timeout
  let last
  while (Date.now() < end) {
    try {
      last = await fn()
      if (last) return last
    } catch (error) {
      last = error
    }
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const text = typeof message === 'function' ? message() : message
  throw new Error(`${text} (timed out after ${timeout} ms; last: ${String(last)})`)
}

const lastAnswer = (page) => page.getByTestId('assistant-message').last()

async function answerState(page) {
  const answer = lastAnswer(page)
  const content = answer.getByTestId('message-content')
  return {
    status: await answer.getAttribute('data-status'),
    text: (await content.count()) ? (await content.innerText()).trim() : '',
  }
}

async function waitAnswer(page, status = 'complete', timeout = STREAM_TIMEOUT) {
  let last = null
  return until(
    async () => {
      const state = await answerState(page)
      last = state
      return state.status === status ? state : null
    },
    () => `the last answer never became "${status}" (it is ${JSON.stringify(last)?.slice(0, 160)})`,
    timeout,
  )
}

async function send(page, text) {
  const box = page.getByTestId('composer')
  await box.fill(text)
  await box.press('Enter')
}

async function register(page, username, displayName) {
  await page.goto(`${baseUrl}register`, { waitUntil: 'domcontentloaded' })
  await page.getByTestId('register-username').fill(username)
  if (displayName) await page.getByTestId('register-display-name').fill(displayName)
  await page.getByTestId('register-password').fill(PASSWORD)
  await page.getByTestId('register-submit').click()
}

async function login(page, username, password = PASSWORD) {
  await page.goto(`${baseUrl}login`, { waitUntil: 'domcontentloaded' })
  await page.getByTestId('login-username').fill(username)
  await page.getByTestId('login-password').fill(password)
  await page.getByTestId('login-submit').click()
}

async function noOverflow(page) {
  const overflow = await page.evaluate(
    () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
  )
  assert(overflow <= 0, `page is ${overflow}px wider than the screen`)
}

async function main() {
  await mkdir(screenshotDir, { recursive: true })
  const fake = createFake()
  await new Promise((resolve) => fake.listen(0, '127.0.0.1', resolve))
  const markdownFakeUrl = `http://127.0.0.1:${fake.address().port}`
  const fakeUrl = (process.env.FAKE_LLM_URL || markdownFakeUrl)
    .replace(/\/+$/, '')
    .replace(/\/v1$/, '')
  const secondFake = fakeUrl !== markdownFakeUrl
  console.log(
    `chat e2e of ${baseUrl} with the fake LLM at ${fakeUrl} (screenshots in ${screenshotDir})`,
  )

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

  let conversationUrl = ''
  try {
    const desktop = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      locale: 'en-US',
      colorScheme: 'light',
    })
    desktop.setDefaultTimeout(TIMEOUT)
    await desktop.grantPermissions(['clipboard-read', 'clipboard-write'], {
      origin: new URL(baseUrl).origin,
    })
    const page = await desktop.newPage()
    const problems = watch(page, EXPECTED)

    await check(
      'a visitor is sent to the sign-in page',
      async () => {
        const response = await page.goto(baseUrl, { waitUntil: 'domcontentloaded' })
        assert(response?.ok(), `GET ${baseUrl} answered ${response?.status()}`)
        await page.getByTestId('login-form').waitFor()
        assert(new URL(page.url()).pathname.endsWith('/login'), `landed on ${page.url()}`)
        await shot(page, '01-login')
      },
      { essential: true },
    )

    await check('register shows the server validation messages by each field', async () => {
      await page.goto(`${baseUrl}register`, { waitUntil: 'domcontentloaded' })
      await page.getByTestId('register-username').fill('a')
      await page.getByTestId('register-password').fill('short')
      await page.getByTestId('register-submit').click()
      const userError = await page.getByTestId('register-username-error').innerText()
      const passwordError = await page.getByTestId('register-password-error').innerText()
      assert(userError.length > 3, `username error "${userError}"`)
      assert(passwordError.length > 3, `password error "${passwordError}"`)
      await shot(page, '02-register-errors')
    })

    await check(
      'the first account registers, becomes admin and lands on the chat',
      async () => {
        await register(page, ALICE, 'Alice')
        await page.getByTestId('sidebar').waitFor()
        await page.getByTestId('nav-admin').waitFor()
        const name = await page.getByTestId('user-name').innerText()
        assert(name === 'Alice', `signed in as "${name}"`)
      },
      { essential: true },
    )

    await check(
      'first run: the admin adds a connection, "Test" finds its models',
      async () => {
        await page.getByTestId('setup').waitFor()
        await shot(page, '03-first-run')
        await page.getByTestId('preset-compatible').check()
        await page.getByTestId('connection-name').fill('Fake LLM')
        await page.getByTestId('connection-url').fill(`${fakeUrl}/v1`)
        await page.getByTestId('connection-test').click()
        const result = page.getByTestId('test-result')
        await result.waitFor({ timeout: 30_000 })
        const text = await result.innerText()
        assert(/works/i.test(text), `test result: "${text}"`)
        await page.getByTestId('connection-save').click()
        await page.getByTestId('model-picker').waitFor()
        await page.getByTestId('welcome').waitFor()
        const models = await page.getByTestId('model-picker').locator('option').count()
        assert(models >= 1, 'the model picker offers nothing')
      },
      { essential: true },
    )

    await check(
      'chat: Enter sends and the answer streams in, growing, with a stop button',
      async () => {
        await send(page, 'Tell me about zebras [[tokens:60]] [[slow]]')
        await page.getByTestId('stop').waitFor()
        const first = await until(async () => {
          const s = await answerState(page)
          return s.text.length > 5 ? s : null
        }, 'no text streamed in')
        await page.waitForTimeout(600)
        const second = await answerState(page)
        assert(second.status === 'streaming', `status ${second.status} while streaming`)
        assert(second.text.length > first.text.length, 'the answer did not grow')
        await shot(page, '04-streaming')
        await page.getByTestId('stop').click() // keep the run short: stop checked below too
        await waitAnswer(page, 'stopped')
        assert(/\/c\/[^/]+$/.test(new URL(page.url()).pathname), `URL is ${page.url()}`)
        conversationUrl = page.url()
      },
      { essential: true },
    )

    await check(
      'admin adds a second connection; its answer renders Markdown, highlighted code, a copy button',
      async () => {
        if (secondFake) {
          await page.getByTestId('nav-admin').click()
          await page.getByTestId('add-connection').click()
          await page.getByTestId('preset-compatible').check()
          await page.getByTestId('connection-name').fill('Markdown fake')
          await page.getByTestId('connection-url').fill(`${markdownFakeUrl}/v1`)
          await page.getByTestId('connection-save').click()
          await page.getByTestId('connection').filter({ hasText: 'Markdown fake' }).waitFor()
          await shot(page, '14-admin-connections')
        }
        await page.getByTestId('new-chat').click()
        await page.getByTestId('welcome').waitFor()
        const picker = page.getByTestId('model-picker')
        await until(
          async () => (await picker.locator('option[value="fake-gpt"]').count()) === 1,
          'the second connection’s model is not offered',
        )
        await picker.selectOption('fake-gpt')
        await send(page, 'Show me some code [[code]] [[tokens:10]]')
        const done = await waitAnswer(page)
        assert(done.text.includes('Answer'), `answer text "${done.text.slice(0, 80)}"`)
        const answer = lastAnswer(page)
        await answer.locator('strong').first().waitFor()
        await answer.locator('.code-block .hljs-keyword, .code-block .hljs-title').first().waitFor()
        await answer.locator('.code-copy').click()
        await page.getByTestId('toast').filter({ hasText: 'Copied' }).first().waitFor()
        const clip = await page.evaluate(() => navigator.clipboard.readText().catch(() => ''))
        assert(clip === '' || clip.includes('def hello'), `clipboard holds "${clip}"`)
        await shot(page, '05-markdown')
        await page.goto(conversationUrl, { waitUntil: 'domcontentloaded' })
        await page.getByTestId('thread').waitFor()
      },
    )

    await check('the sidebar lists the conversation under Today, with its title', async () => {
      const link = page.getByTestId('conversation-link').first()
      await link.waitFor()
      const groups = await page.locator('.group-title').allInnerTexts()
      assert(groups.includes('Today'), `groups: ${groups}`)
      const title = await link.innerText()
      assert(title.trim().length > 0, 'empty title')
    })

    await check('stop keeps the partial answer, marked stopped', async () => {
      await send(page, 'A long one please [[slow]] [[tokens:200]]')
      await until(async () => (await answerState(page)).text.length > 10, 'nothing streamed')
      await page.getByTestId('stop').click()
      const stopped = await waitAnswer(page, 'stopped', TIMEOUT)
      assert(stopped.text.length > 10, 'the partial text was lost')
      await lastAnswer(page).getByTestId('stopped-note').waitFor()
      await page.getByTestId('send').waitFor()
      await page.waitForTimeout(800)
      const later = await answerState(page)
      assert(later.text === stopped.text, 'the answer kept growing after stop')
    })

    let firstVersion = ''
    await check('regenerate makes a second version: "2 / 2"', async () => {
      await send(page, 'Versions please [[tokens:16]]')
      firstVersion = (await waitAnswer(page)).text
      await lastAnswer(page).getByTestId('regenerate').click()
      const second = await waitAnswer(page)
      assert(second.text.length > 0, 'the regenerated answer is empty')
      const label = await lastAnswer(page).getByTestId('version-label').innerText()
      assert(label.replace(/\s/g, '') === '2/2', `version label "${label}"`)
    })

    await check('the version switcher goes back to "1 / 2" and the first answer', async () => {
      await lastAnswer(page).getByTestId('version-prev').click()
      await until(
        async () =>
          (await lastAnswer(page).getByTestId('version-label').innerText()).replace(/\s/g, '') ===
          '1/2',
        'label did not become 1 / 2',
      )
      const text = (await answerState(page)).text
      assert(text.startsWith(firstVersion.slice(0, 30)), `shows "${text.slice(0, 40)}"`)
      await shot(page, '06-versions')
      await lastAnswer(page).getByTestId('version-next').click()
      await until(
        async () =>
          (await lastAnswer(page).getByTestId('version-label').innerText()).replace(/\s/g, '') ===
          '2/2',
        'label did not go back to 2 / 2',
      )
    })

    await check('thumbs up is remembered after a reload', async () => {
      await lastAnswer(page).getByTestId('thumbs-up').click()
      await until(
        async () =>
          (await lastAnswer(page).getByTestId('thumbs-up').getAttribute('aria-pressed')) === 'true',
        'not pressed',
      )
      await page.waitForTimeout(300)
      await page.reload({ waitUntil: 'domcontentloaded' })
      await waitAnswer(page)
      const pressed = await lastAnswer(page).getByTestId('thumbs-up').getAttribute('aria-pressed')
      assert(pressed === 'true', `after reload aria-pressed=${pressed}`)
    })

    await check('edit the last question: a new answer, the question shows "2 / 2"', async () => {
      const question = page.getByTestId('user-message').last()
      await question.hover()
      await question.getByTestId('edit').click()
      await question.getByTestId('edit-input').fill('A short one about giraffes [[tokens:30]]')
      await question.getByTestId('edit-save').click()
      const answer = await waitAnswer(page)
      assert(answer.text.length > 0, 'the new answer is empty')
      const edited = page.getByTestId('user-message').last()
      const content = await edited.getByTestId('message-content').innerText()
      assert(content.includes('giraffes'), `question reads "${content}"`)
      const label = await edited.getByTestId('version-label').innerText()
      assert(label.replace(/\s/g, '') === '2/2', `question version "${label}"`)
    })

    await check(
      'Shift+Enter makes a new line; an Enter during IME composition does not send',
      async () => {
        const before = await page.getByTestId('user-message').count()
        const box = page.getByTestId('composer')
        await box.fill('')
        await box.pressSequentially('첫 줄')
        await box.press('Shift+Enter')
        await box.pressSequentially('둘째 줄')
        const value = await box.inputValue()
        assert(value === '첫 줄\n둘째 줄', `box holds ${JSON.stringify(value)}`)
        const height = await box.evaluate((el) => el.getBoundingClientRect().height)
        assert(height > 45, `the box did not grow (${height}px)`)
        await box.evaluate((el) => {
          el.dispatchEvent(new CompositionEvent('compositionstart', { bubbles: true }))
          el.dispatchEvent(
            new KeyboardEvent('keydown', {
              key: 'Enter',
              isComposing: true,
              bubbles: true,
              cancelable: true,
            }),
          )
          el.dispatchEvent(
            new KeyboardEvent('keydown', {
              key: 'Enter',
              keyCode: 229,
              bubbles: true,
              cancelable: true,
            }),
          )
          el.dispatchEvent(new CompositionEvent('compositionend', { bubbles: true, data: '줄' }))
        })
        await page.waitForTimeout(400)
        const after = await page.getByTestId('user-message').count()
        assert(after === before, 'a composing Enter sent the message')
        await box.press('Enter')
        await until(
          async () => (await page.getByTestId('user-message').count()) === before + 1,
          'Enter did not send',
        )
        const sent = await page.getByTestId('user-message').last().innerText()
        assert(sent.includes('첫 줄') && sent.includes('둘째 줄'), `sent "${sent}"`)
        await waitAnswer(page)
      },
    )

    await check('a reload in the middle of an answer re-attaches to the stream', async () => {
      await send(page, 'Reload test [[slow]] [[tokens:40]]')
      await until(async () => (await answerState(page)).text.length > 12, 'nothing streamed')
      const before = (await answerState(page)).text
      await page.reload({ waitUntil: 'domcontentloaded' })
      await page.getByTestId('thread').waitFor()
      const during = await until(async () => {
        const s = await answerState(page)
        return s.status === 'streaming' && s.text.length > before.length ? s : null
      }, 'after the reload the answer was not streaming on')
      const done = await waitAnswer(page)
      assert(done.text.length > during.text.length, 'the answer did not finish after the reload')
      assert(done.text.startsWith(before.slice(0, 12)), 'the re-attached text does not match')
      await shot(page, '07-after-reload')
    })

    await check('the session survived the reload, and no token is in web storage', async () => {
      const name = await page.getByTestId('user-name').innerText()
      assert(name === 'Alice', `user is "${name}"`)
      const leaked = await page.evaluate(() =>
        [localStorage, sessionStorage].some((store) =>
          Object.keys(store).some(
            (key) => /eyJ|dk_/.test(store.getItem(key) ?? '') || /token/i.test(key),
          ),
        ),
      )
      assert(!leaked, 'a token was found in localStorage or sessionStorage')
    })

    await check(
      'new chat, then the keyword search finds a conversation by its message text',
      async () => {
        await page.getByTestId('new-chat').click()
        await page.getByTestId('welcome').waitFor()
        await send(page, 'Something about pelicans [[tokens:8]]')
        await waitAnswer(page)
        const search = page.getByTestId('search')
        await search.fill('zebras')
        await until(
          async () => (await page.getByTestId('conversation-link').count()) === 1,
          'search "zebras" did not narrow the list to one',
        )
        await search.fill('pelicans')
        await until(async () => {
          const links = await page.getByTestId('conversation-link').count()
          return links === 1
        }, 'search "pelicans" did not find one')
        await search.fill('nonexistentword')
        await page.getByTestId('sidebar-empty').waitFor()
        await shot(page, '08-search')
        await search.fill('')
        await until(
          async () => (await page.getByTestId('conversation-link').count()) >= 2,
          'the list did not come back',
        )
      },
    )

    await check('rename, pin, archive and delete from the sidebar menu', async () => {
      const item = () => page.locator('.conv').filter({ hasText: /./ }).first()
      await item().hover()
      await item().getByTestId('conversation-menu').click()
      await page.getByTestId('menu-rename').click()
      const input = page.getByTestId('rename-input')
      await input.fill('Renamed by the test')
      await input.press('Enter')
      await page
        .getByTestId('conversation-link')
        .filter({ hasText: 'Renamed by the test' })
        .waitFor()

      const renamed = page.locator('.conv').filter({ hasText: 'Renamed by the test' })
      await renamed.getByTestId('conversation-menu').click()
      await page.getByTestId('menu-pin').click()
      await page.locator('.group-title').filter({ hasText: 'Pinned' }).waitFor()

      await renamed.getByTestId('conversation-menu').click()
      await page.getByTestId('menu-archive').click()
      await until(async () => (await renamed.count()) === 0, 'archived item still listed')
      await page.getByTestId('toggle-archived').click()
      await renamed.waitFor()
      await renamed.getByTestId('conversation-menu').click()
      await page.getByTestId('menu-delete').click()
      await page.getByTestId('menu-delete-confirm').click()
      await until(async () => (await renamed.count()) === 0, 'deleted item still listed')
      await page.getByTestId('toggle-archived').click()
      await page.getByTestId('conversation-link').first().waitFor()
    })

    await check('settings: an API key is shown once, listed, and revoked', async () => {
      await page.getByTestId('nav-settings').click()
      await page.getByTestId('api-key-name').fill('e2e script')
      await page.getByTestId('api-key-create').click()
      const key = await page.getByTestId('api-key-value').innerText()
      assert(key.startsWith('dk_'), `key "${key}"`)
      await page.getByTestId('api-key-row').filter({ hasText: 'e2e script' }).waitFor()
      await shot(page, '09-settings')
      await page.getByTestId('api-key-revoke').first().click()
      await page.getByTestId('api-key-revoke-confirm').click()
      await page.getByTestId('api-key-empty').waitFor()
    })

    await check('API reference: the OpenAPI document rendered from bundled files', async () => {
      await page.getByTestId('nav-api-docs').click()
      await page.getByTestId('op-login').waitFor()
      await page.getByTestId('op-post_message').click()
      await page.getByTestId('op-post_message').getByText('content', { exact: true }).waitFor()
      const base = await page.getByTestId('openai-base').innerText()
      assert(base.endsWith('/v1'), `OpenAI base URL "${base}"`)
      await shot(page, '09b-api-reference')
      await page.getByTestId('nav-settings').click()
    })

    await check('dark mode from the settings', async () => {
      await page.getByTestId('theme-dark').click()
      const background = await page.evaluate(() => getComputedStyle(document.body).backgroundColor)
      assert(background !== 'rgb(255, 255, 255)', `body stayed light: ${background}`)
      await page.goto(conversationUrl, { waitUntil: 'domcontentloaded' })
      await page.getByTestId('thread').waitFor()
      await shot(page, '10-chat-dark')
    })

    await check('Korean UI: every visible label switches to 한국어', async () => {
      await page.getByTestId('nav-settings').click()
      await page.getByTestId('lang-ko').click()
      await page.getByTestId('theme-light').click()
      const label = await page.getByTestId('new-chat').innerText()
      assert(label.includes('새 대화'), `new chat button reads "${label}"`)
      assert((await page.locator('html').getAttribute('lang')) === 'ko', '<html lang> is not ko')
      await page.goto(conversationUrl, { waitUntil: 'domcontentloaded' })
      await page.getByTestId('thread').waitFor()
      const placeholder = await page.getByTestId('composer').getAttribute('placeholder')
      assert(/물어보세요/.test(placeholder ?? ''), `placeholder "${placeholder}"`)
      await shot(page, '11-chat-korean')
      await page.getByTestId('nav-settings').click()
      await page.getByTestId('lang-en').click()
    })

    await check(
      'admin: the Server tab shows the status and turns the daily backup on',
      async () => {
        await page.getByTestId('nav-admin').click()
        await page.getByTestId('admin-tab-status').click()
        await page.getByTestId('server-status').waitFor()
        const version = await page.getByTestId('status-version').innerText()
        assert(/^\d+\.\d+\.\d+/.test(version), `version "${version}"`)
        const rows = await page.getByTestId('status-connections').locator('tbody tr').count()
        assert(rows >= 1, 'no connection row')
        await page.getByTestId('backup-daily').check()
        await page.getByTestId('backup-keep').fill('3')
        await page.getByRole('button', { name: 'Save' }).click()
        await page.getByTestId('toast').filter({ hasText: 'Saved' }).first().waitFor()
        await shot(page, '15-admin-status')
      },
    )

    await check('admin: approval mode, a pending account, approval, sign-in', async () => {
      await page.getByTestId('nav-admin').click()
      await page.getByTestId('admin-tab-registration').click()
      await page.getByTestId('registration-approval').check()
      await page.getByTestId('toast').filter({ hasText: 'Saved' }).first().waitFor()

      const other = await browser.newContext({
        viewport: { width: 1000, height: 700 },
        locale: 'en-US',
      })
      other.setDefaultTimeout(TIMEOUT)
      const carol = await other.newPage()
      await register(carol, CAROL)
      await carol.getByTestId('pending').waitFor()
      await shot(carol, '12-pending')

      await page.getByTestId('admin-tab-users').click()
      const row = page.getByTestId(`user-row-${CAROL}`)
      await row.getByTestId('user-approve').click()
      await until(async () => (await row.getByTestId('user-approve').count()) === 0, 'not approved')
      await shot(page, '13-admin-users')

      await login(carol, CAROL)
      await carol.getByTestId('sidebar').waitFor()
      await other.close()

      await page.getByTestId('admin-tab-registration').click()
      await page.getByTestId('registration-open').check()
      await page.getByTestId('toast').filter({ hasText: 'Saved' }).first().waitFor()
      await page.getByTestId('admin-tab-connections').click()
      await page.getByTestId('connection').first().waitFor()
      if (!secondFake) await shot(page, '14-admin-connections')
    })

    await check('sign out, then sign in again', async () => {
      await page.getByTestId('sign-out').click()
      await page.getByTestId('login-form').waitFor()
      await page.goto(conversationUrl, { waitUntil: 'domcontentloaded' })
      await page.getByTestId('login-form').waitFor() // no session left behind
      await page.getByTestId('login-username').fill(ALICE)
      await page.getByTestId('login-password').fill(PASSWORD)
      await page.getByTestId('login-submit').click()
      await page.getByTestId('thread').waitFor() // back where the link pointed
      assert(page.url() === conversationUrl, `after sign-in at ${page.url()}`)
    })

    // Issue 8's features (e2e/features.mjs), with Alice signed in.
    if (!abandoned) {
      await runFeatureChecks({
        browser,
        page,
        baseUrl,
        check,
        assert,
        until,
        shot,
        send,
        waitAnswer,
        register,
        login,
        watch,
        EXPECTED,
        TIMEOUT,
        markdownFake: fake,
        ALICE,
        DAVE,
      })
    }

    await check('no script errors and no unexpected failed requests (desktop)', async () => {
      assert(problems.length === 0, problems.join('; '))
    })
    await desktop.close()

    // A second user: sees nothing of Alice's.
    const second = await browser.newContext({
      viewport: { width: 1280, height: 800 },
      locale: 'en-US',
    })
    second.setDefaultTimeout(TIMEOUT)
    const bob = await second.newPage()
    const bobProblems = watch(bob, EXPECTED)
    await check("a second user cannot see the first one's conversations", async () => {
      await register(bob, BOB)
      await bob.getByTestId('sidebar').waitFor()
      await bob.getByTestId('sidebar-empty').waitFor()
      assert(!(await bob.getByTestId('nav-admin').count()), 'a plain user sees the admin link')
      await bob.goto(conversationUrl, { waitUntil: 'domcontentloaded' })
      await bob.getByTestId('load-error').waitFor()
      const text = await bob.getByTestId('load-error').innerText()
      assert(/does not exist/.test(text), `error reads "${text}"`)
      await shot(bob, '15-other-user')
    })
    await check('no script errors (second user)', async () => {
      assert(bobProblems.length === 0, bobProblems.join('; '))
    })
    await second.close()

    // A phone, 375 px wide, Korean.
    const phone = await browser.newContext({
      viewport: { width: 375, height: 812 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
      locale: 'ko-KR',
      colorScheme: 'light',
    })
    phone.setDefaultTimeout(TIMEOUT)
    const mobile = await phone.newPage()
    await check('phone 375 px: sign-in, the chat and the drawer fit the screen', async () => {
      await mobile.goto(baseUrl, { waitUntil: 'domcontentloaded' })
      await mobile.getByTestId('login-form').waitFor()
      await noOverflow(mobile)
      await shot(mobile, '16-phone-login')
      await login(mobile, ALICE)
      await mobile.getByTestId('composer').waitFor()
      await mobile.goto(conversationUrl, { waitUntil: 'domcontentloaded' })
      await mobile.getByTestId('thread').waitFor()
      await noOverflow(mobile)
      const sidebarVisible = await mobile.getByTestId('sidebar').isVisible()
      assert(!sidebarVisible, 'the sidebar covers the chat on a phone')
      await shot(mobile, '17-phone-chat')
      await mobile.getByTestId('open-sidebar').click()
      await mobile.getByTestId('sidebar').waitFor({ state: 'visible' })
      await mobile.waitForTimeout(400) // the slide-in transition
      await shot(mobile, '18-phone-drawer')
      await mobile.keyboard.press('Escape')
      await mobile.getByTestId('sidebar').waitFor({ state: 'hidden' })
      await send(mobile, '휴대폰에서 보내는 질문 [[tokens:20]]')
      await waitAnswer(mobile)
      await noOverflow(mobile)
      await shot(mobile, '19-phone-answer')
      await mobile.emulateMedia({ colorScheme: 'dark' })
      await shot(mobile, '20-phone-dark')
    })
    await phone.close()
  } finally {
    await browser.close()
    fake.close()
  }
}

try {
  await main()
} catch (error) {
  failed += 1
  console.log(`FAIL chat e2e could not run: ${error instanceof Error ? error.message : error}`)
}
console.log(`${passed} passed, ${failed} failed`)
process.exit(failed === 0 ? 0 : 1)
