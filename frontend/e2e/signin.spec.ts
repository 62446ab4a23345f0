// Issue 22 in the browser: directory sign-in. Runs after chat.spec.ts on its server (the admin
// ALICE exists). The admin's Sign-in tab (three sections, a setting saved with LDAP left off
// and kept after a reload, a 422 shown at its field, "Test connection" against an unreachable
// directory), OpenID Connect configured with an issuer nobody answers at (enough for the login
// page's button: it is never clicked), and the login page on a desktop and a phone.
//
// Route mocks (`page.route`), only where this server cannot produce the state:
// - "Test a user" with a user found: there is no directory server in the e2e run;
// - the login page with every method at once: proxy sign-in cannot be turned on without
//   `--trusted-proxies`, and turning LDAP on here would make helpers.login() sign in with the
//   company account in later runs against the same server.
// Everything the spec turns on is turned off again at the end.
// Screenshots: signin-….
import {
  expect,
  test,
  type APIRequestContext,
  type BrowserContext,
  type Page,
} from '@playwright/test'

import {
  ALICE,
  EXPECTED,
  PASSWORD,
  at,
  expectAccessible,
  login,
  newContext,
  overflow,
  shot,
  toast,
  watch,
} from './helpers'

test.describe.configure({ mode: 'serial' })

const suffix = process.env.E2E_SUFFIX || Date.now().toString(36).slice(-5)
const USER_BASE = `ou=People${suffix},dc=example,dc=org`
const LABEL = `Corp SSO ${suffix}`
const ISSUER = 'http://127.0.0.1:9/realms/e2e'

let context: BrowserContext
let page: Page
let problems: string[] = []

/** The refusals this spec provokes on purpose. */
const EXPECTED_HERE: RegExp[] = [
  ...EXPECTED,
  /^422 .*\/api\/v1\/admin\/sign-in$/, // the filter without {username}
  /^401 .*\/api\/v1\/auth\/proxy$/, // the mocked proxy without its header
]

/** An access token of ALICE's for the API calls that check and clean up. */
async function token(request: APIRequestContext): Promise<string> {
  const response = await request.post(at('api/v1/auth/login'), {
    data: { username: ALICE, password: PASSWORD },
  })
  expect(response.ok(), `login answered ${response.status()}`).toBe(true)
  return ((await response.json()) as { access_token: string }).access_token
}

async function signInSettings(request: APIRequestContext) {
  const response = await request.get(at('api/v1/admin/sign-in'), {
    headers: { Authorization: `Bearer ${await token(request)}` },
  })
  expect(response.ok(), `GET admin/sign-in answered ${response.status()}`).toBe(true)
  return (await response.json()) as {
    ldap: { enabled: boolean; url: string; user_base: string }
    oidc: { enabled: boolean; issuer: string; button_label: string; redirect_url_hint: string }
  }
}

async function openTab(): Promise<void> {
  await page.goto(at('admin?tab=signin'), { waitUntil: 'domcontentloaded' })
  await expect(page.getByTestId('signin-form')).toBeVisible()
}

test.beforeAll(async ({ browser }) => {
  context = await newContext(browser)
  page = await context.newPage()
  problems = watch(page, EXPECTED_HERE)
  await login(page, ALICE)
  await expect(page.getByTestId('composer')).toBeVisible()
})

test.afterAll(async () => {
  // Leave the server as found: OpenID Connect off (LDAP was never turned on).
  if (context) {
    const headers = { Authorization: `Bearer ${await token(context.request)}` }
    await context.request.put(at('api/v1/admin/sign-in'), {
      headers,
      data: { oidc: { enabled: false } },
    })
    await context.close()
  }
})

test.describe('directory sign-in', () => {
  test('the admin Sign-in tab shows LDAP, OpenID Connect and the proxy header', async () => {
    await openTab()
    await expect(page.getByTestId('admin-tab-signin')).toHaveAttribute('aria-selected', 'true')
    for (const section of ['ldap', 'oidc', 'proxy']) {
      await expect(page.getByTestId(`signin-${section}`)).toBeVisible()
      await expect(page.getByTestId(`signin-${section}-enabled`)).toBeAttached()
    }
    await expect(page.getByTestId('signin-ldap-enabled')).not.toBeChecked()
    // The server of the e2e run has no --trusted-proxies: proxy sign-in cannot be turned on.
    await expect(page.getByTestId('signin-trusted-proxies')).toContainText('--trusted-proxies')
    await expect(page.getByTestId('signin-proxy-enabled')).toBeDisabled()
    await expect(page.getByTestId('signin-bind_password-state')).toHaveText('Not set')
    await expect(page.getByTestId('signin-redirect-url')).toHaveValue(
      /\/api\/v1\/auth\/oidc\/callback$/,
    )
    await expect(page.getByTestId('signin-save')).toBeDisabled()
  })

  test('saves the LDAP server and base with LDAP left off; a reload shows them', async ({
    request,
  }) => {
    await page.getByTestId('signin-ldap-url').fill('ldap://127.0.0.1:9')
    await page.getByTestId('signin-ldap-user_base').fill(USER_BASE)
    await page.getByTestId('signin-save').click()
    await toast(page, 'Sign-in settings saved.')
    await expect(page.getByTestId('signin-save')).toBeDisabled()

    const stored = await signInSettings(request)
    expect(stored.ldap).toMatchObject({
      enabled: false,
      url: 'ldap://127.0.0.1:9',
      user_base: USER_BASE,
    })
    await openTab()
    await expect(page.getByTestId('signin-ldap-url')).toHaveValue('ldap://127.0.0.1:9')
    await expect(page.getByTestId('signin-ldap-user_base')).toHaveValue(USER_BASE)
  })

  test('a user filter without {username} is refused at its field', async () => {
    await page.getByTestId('signin-ldap-user_filter').fill('(uid=everyone)')
    await page.getByTestId('signin-save').click()
    await expect(page.getByTestId('signin-ldap-user_filter-error')).toBeVisible()
    await expect(page.getByTestId('signin-error')).toBeVisible()
    await openTab() // the draft is dropped
    await expect(page.getByTestId('signin-ldap-user_filter')).not.toHaveValue('(uid=everyone)')
  })

  test('Test connection against a directory nobody answers: the failed step and why', async () => {
    await page.getByTestId('ldap-test-connection').click()
    const result = page.getByTestId('ldap-test-result')
    await expect(result).toBeVisible({ timeout: 30_000 })
    await expect(result).toHaveAttribute('data-ok', 'false')
    const steps = page.getByTestId('ldap-test-step')
    await expect(steps.first()).toHaveAttribute('data-ok', 'false')
    await expect(steps.first()).toContainText('Connect')
  })

  test('Test a user shows what the directory says (route-mocked: no directory here)', async () => {
    await page.route('**/api/v1/admin/sign-in/ldap/test-user', (route) =>
      route.fulfill({
        json: {
          found: true,
          dn: 'CN=Kim Minji,OU=People,DC=corp,DC=example',
          username: 'minji.kim',
          display_name: '김민지',
          email: 'minji.kim@corp.example',
          groups: ['CN=daehwa-users,OU=Groups,DC=corp,DC=example'],
          daehwa_groups: [{ id: 'g1', name: 'Research' }],
          admin: false,
          allowed: true,
          password_ok: true,
          detail: '',
        },
      }),
    )
    await page.getByTestId('ldap-test-username').fill('minji.kim')
    await page.getByTestId('ldap-test-password').fill('not-a-real-password')
    await page.getByTestId('ldap-test-user').click()
    const result = page.getByTestId('ldap-user-result')
    await expect(result).toHaveAttribute('data-found', 'true')
    await expect(page.getByTestId('ldap-user-dn')).toHaveText(
      'CN=Kim Minji,OU=People,DC=corp,DC=example',
    )
    await expect(page.getByTestId('ldap-user-daehwa-groups')).toHaveText('Research')
    await expect(page.getByTestId('ldap-user-password')).toHaveText('Correct')
    await page.unroute('**/api/v1/admin/sign-in/ldap/test-user')
    await shot(page, 'signin-01-admin-tab', true)
    await expectAccessible(page, 'the admin Sign-in tab with test results')
  })

  test('OpenID Connect: issuer, client and button label saved, the method on', async ({
    request,
  }) => {
    await openTab()
    await page.getByTestId('signin-oidc-issuer').fill(ISSUER)
    await page.getByTestId('signin-oidc-client_id').fill('daehwa-e2e')
    await page.getByTestId('signin-oidc-button_label').fill(LABEL)
    await page.getByTestId('signin-oidc-enabled').check()
    await page.getByTestId('signin-save').click()
    await toast(page, 'Sign-in settings saved.')
    const stored = await signInSettings(request)
    expect(stored.oidc).toMatchObject({ enabled: true, issuer: ISSUER, button_label: LABEL })
  })

  test('the login page shows "Sign in with …" for OpenID Connect (not clicked)', async ({
    browser,
  }) => {
    const guest = await newContext(browser)
    const visitor = await guest.newPage()
    const visitorProblems = watch(visitor)
    await visitor.goto(at('login?redirect=/settings'), { waitUntil: 'domcontentloaded' })
    const button = visitor.getByTestId('login-oidc')
    await expect(button).toHaveText(`Sign in with ${LABEL}`)
    await expect(button).toHaveAttribute(
      'href',
      /\/api\/v1\/auth\/oidc\/start\?return_to=%2Fsettings$/,
    )
    await expect(visitor.getByTestId('login-kinds')).toHaveCount(0) // LDAP is off
    await expect(visitor.getByTestId('login-form')).toBeVisible()
    await shot(visitor, 'signin-02-login-oidc')
    await guest.close()
    expect(visitorProblems).toEqual([])
  })

  test('the login page with every method, on a desktop and a phone (route-mocked methods)', async ({
    browser,
  }) => {
    for (const [name, options] of [
      ['desktop', {}],
      [
        'phone',
        {
          viewport: { width: 390, height: 844 },
          deviceScaleFactor: 2,
          isMobile: true,
          hasTouch: true,
        },
      ],
    ] as const) {
      const guest = await newContext(browser, options)
      const visitor = await guest.newPage()
      const visitorProblems = watch(visitor, EXPECTED_HERE)
      await visitor.route('**/api/v1/auth/methods', (route) =>
        route.fulfill({ json: { local: true, ldap: true, oidc: { label: LABEL }, proxy: true } }),
      )
      await visitor.route('**/api/v1/auth/proxy', (route) =>
        route.fulfill({
          status: 401,
          json: { error: 'no user header', code: 'proxy_header_missing' },
        }),
      )
      await visitor.goto(at('login?sso_error=not_in_allowed_group'), {
        waitUntil: 'domcontentloaded',
      })
      await expect(visitor.getByTestId('login-kind-company')).toHaveAttribute(
        'aria-checked',
        'true',
      )
      await expect(visitor.getByTestId('sso-error')).toContainText('not in a group')
      await expect(visitor.getByTestId('login-oidc')).toBeVisible()
      await expect(visitor.getByTestId('login-proxy')).toBeEnabled()
      expect(await overflow(visitor)).toBe(0)
      // The switch by keyboard: Tab reaches it, the arrow picks the local account.
      await visitor.getByTestId('login-kind-company').focus()
      await visitor.keyboard.press('ArrowRight')
      await expect(visitor.getByTestId('login-kind-local')).toBeFocused()
      await expect(visitor.getByTestId('login-form')).toHaveAttribute('data-kind', 'local')
      await visitor.keyboard.press('ArrowLeft')
      await shot(visitor, `signin-03-login-all-${name}`, true)
      await expectAccessible(visitor, `the login page with every method (${name})`)
      await guest.close()
      expect(visitorProblems).toEqual([])
    }
  })

  test('the Sign-in tab on a phone', async ({ browser }) => {
    const phone = await newContext(browser, {
      viewport: { width: 390, height: 844 },
      deviceScaleFactor: 2,
      isMobile: true,
      hasTouch: true,
    })
    const mobile = await phone.newPage()
    const mobileProblems = watch(mobile)
    await login(mobile, ALICE)
    await expect(mobile.getByTestId('composer')).toBeVisible()
    await mobile.goto(at('admin?tab=signin'), { waitUntil: 'domcontentloaded' })
    await expect(mobile.getByTestId('signin-form')).toBeVisible()
    expect(await overflow(mobile)).toBe(0)
    await shot(mobile, 'signin-04-admin-tab-phone', true)
    await phone.close()
    expect(mobileProblems).toEqual([])
  })

  test('no unexpected errors on the page', () => {
    expect(problems).toEqual([])
  })
})
