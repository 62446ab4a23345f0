// Browser tests of issue 8's features, registered by chat.spec.ts on the same server and fake
// LLM (after its own tests, with the admin Alice signed in): settings that follow the user,
// sharing, samples, the prompt library, the collector, plan limits, the admin pages, and
// export/import. Screenshots: 30-… in the same directory.
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

import { expect, test, type BrowserContext, type Page } from '@playwright/test'

import {
  ALICE,
  DAVE,
  at,
  baseUrl,
  chooseLanguage,
  lastAnswer,
  login,
  nav,
  newContext,
  overflow,
  register,
  send,
  shot,
  toast,
  waitAnswer,
  watch,
  type Flow,
} from './helpers'

/** Back to the signed-in app (from the share page, which has no sidebar). */
async function home(p: Page) {
  // A dialog left open by a failed step would cover everything: close it.
  for (const close of await p.locator('.modal-head .icon-btn').all()) {
    await close.click().catch(() => undefined)
  }
  if ((await p.getByTestId('sidebar').count()) === 0) {
    await p.goto(baseUrl, { waitUntil: 'domcontentloaded' })
    await expect(p.getByTestId('sidebar')).toBeVisible()
  }
}

async function newChatWith(p: Page, model?: string) {
  await home(p)
  await p.getByTestId('new-chat').click()
  await expect(p.getByTestId('welcome')).toBeVisible()
  if (model) {
    const picker = p.getByTestId('model-picker')
    await expect(picker.locator(`option[value="${model}"]`)).toHaveCount(1)
    await picker.selectOption(model)
  }
}

export function featureTests(flow: Flow): void {
  let shareUrl = ''
  let sharedConversationUrl = ''
  let visitor: BrowserContext | undefined
  let guest: Page
  let guestProblems: string[] = []

  test.afterAll(async () => {
    await visitor?.close()
  })

  // --- 1. settings follow the user ------------------------------------------------------
  test('settings follow the user: theme, default model and system prompt from another device', async () => {
    const { page } = flow
    await page.goto(at('settings'), { waitUntil: 'domcontentloaded' })
    await chooseLanguage(page, 'en')
    let model = ''
    await test.step('Alice picks dark, a default model and a system prompt', async () => {
      await page.getByTestId('theme-dark').click()
      await toast(page, 'Saved')
      const select = page.getByTestId('default-model')
      const values = await select
        .locator('option')
        .evaluateAll((os) => os.map((o) => (o as HTMLOptionElement).value))
      model = values.find((v) => v) ?? ''
      expect(model, 'no model to choose as default').not.toBe('')
      await select.selectOption(model)
      await toast(page, 'Saved')
      await page.getByTestId('system-prompt').fill('Answer like a pirate.')
      await page.getByTestId('save-system-prompt').click()
      await toast(page, 'Saved')
      const stored = await page.evaluate(() => JSON.stringify(localStorage))
      expect(stored, 'the system prompt is in localStorage').not.toContain('pirate')
    })

    await test.step('another device gets them', async () => {
      const laptop = await newContext(flow.browser, { viewport: { width: 1280, height: 860 } })
      try {
        const other = await laptop.newPage()
        await login(other, ALICE)
        await expect(other.getByTestId('sidebar')).toBeVisible()
        await expect(other.locator('html')).toHaveAttribute('data-theme', 'dark')
        await nav(other, 'nav-settings')
        await expect(other.getByTestId('system-prompt')).toHaveValue('Answer like a pirate.')
        await expect(other.getByTestId('default-model')).toHaveValue(model)
      } finally {
        await laptop.close()
      }
    })
    await page.getByTestId('system-prompt').fill('')
    await page.getByTestId('save-system-prompt').click()
    await page.getByTestId('theme-light').click()
    await toast(page, 'Saved')
  })

  // --- 2. share --------------------------------------------------------------------------
  test('share: a link to copy; the snapshot leaves out later messages', async () => {
    const { page } = flow
    await newChatWith(page)
    await send(page, 'Plan a day in Busan by the sea [[tokens:30]]')
    await waitAnswer(page)
    sharedConversationUrl = page.url()
    await page.getByTestId('share-open').click()
    await page.getByTestId('share-expiry').selectOption('7')
    await page.getByTestId('share-create').click()
    const link = page.getByTestId('share-link')
    await expect(link).toHaveValue(/\/s\/[A-Za-z0-9_-]{16,}$/)
    shareUrl = await link.inputValue()
    await shot(page, '30-share-dialog')
    await page.keyboard.press('Escape')
    await send(page, 'A later question that must stay private [[tokens:8]]')
    await waitAnswer(page)
  })

  test('share: the link opens signed out, read-only, without the later messages', async () => {
    expect(shareUrl, 'no share link').not.toBe('')
    visitor = await newContext(flow.browser, { viewport: { width: 1280, height: 860 } })
    guest = await visitor.newPage()
    guestProblems = watch(guest)
    await guest.goto(shareUrl, { waitUntil: 'domcontentloaded' })
    await expect(guest.getByTestId('shared-view')).toBeVisible()
    await expect(guest.getByTestId('readonly-thread')).toBeVisible()
    const messages = guest.getByTestId('message-content')
    await expect(messages, 'the 2 messages of the snapshot').toHaveCount(2)
    await expect(messages.first()).toContainText('Busan')
    expect(
      (await messages.allInnerTexts()).join(' '),
      'a message added after sharing is visible',
    ).not.toContain('private')
    await expect(guest.getByTestId('composer'), 'a message box on the share page').toHaveCount(0)
    await shot(guest, '31-share-signed-out')
    await test.step('phone width: nothing sticks out sideways', async () => {
      await guest.setViewportSize({ width: 375, height: 740 })
      const wider = await overflow(guest)
      await shot(guest, '31b-share-phone')
      await guest.setViewportSize({ width: 1280, height: 860 })
      expect(wider, 'the share page is wider than a phone').toBeLessThanOrEqual(0)
    })
  })

  test('share: "continue" asks to sign in, then clones it into the new user’s chats', async () => {
    await guest.getByTestId('continue-conversation').click()
    await expect(guest.getByTestId('login-form')).toBeVisible()
    expect(guest.url(), 'login without the way back').toMatch(/redirect=/)
    await register(guest, DAVE, 'Dave')
    await expect(guest.getByTestId('sidebar')).toBeVisible()
    await guest.goto(shareUrl, { waitUntil: 'domcontentloaded' })
    const button = guest.getByTestId('continue-conversation')
    await expect(button, 'not signed in here').toHaveText(/Continue this/)
    await button.click()
    await expect(guest.getByTestId('thread')).toBeVisible()
    expect(new URL(guest.url()).pathname).toMatch(/\/c\/[^/]+$/)
    expect(guest.url(), 'landed on the owner’s conversation').not.toBe(sharedConversationUrl)
    const messages = guest.getByTestId('message-content')
    await expect(messages).toHaveCount(2)
    await expect(messages.first()).toContainText('Busan')
    await send(guest, 'And in the evening? [[tokens:10]]')
    await waitAnswer(guest)
  })

  test('share: listed in the owner’s settings; deleted, the link answers "does not exist"', async () => {
    const { page } = flow
    await nav(page, 'nav-settings')
    const row = page.getByTestId('share-row').first()
    await row.getByTestId('share-delete').click()
    await row.getByTestId('share-delete-confirm').click()
    await toast(page, 'Link deleted')
    await guest.goto(shareUrl, { waitUntil: 'domcontentloaded' })
    await expect(guest.getByTestId('share-missing')).toBeVisible()
    await shot(guest, '32-share-deleted')
  })

  // --- 3. samples ------------------------------------------------------------------------
  test('samples: the admin publishes a conversation; another user starts from it', async () => {
    const { page } = flow
    await test.step('the admin publishes', async () => {
      await page.goto(sharedConversationUrl, { waitUntil: 'domcontentloaded' })
      await expect(page.getByTestId('thread')).toBeVisible()
      await page.getByTestId('chat-menu').click()
      await page.getByTestId('publish-sample').click()
      await page.getByTestId('sample-title').fill('A day in Busan')
      await page
        .getByTestId('sample-description')
        .fill('Beaches, markets and a night view — 부산 하루 여행')
      await page.getByTestId('sample-save').click()
      await toast(page, 'Published')
    })
    await test.step('Dave starts from it', async () => {
      await newChatWith(guest)
      await expect(guest.getByTestId('samples-gallery')).toBeVisible()
      const card = guest.getByTestId('sample-card').filter({ hasText: 'A day in Busan' })
      await expect(card).toBeVisible()
      await shot(guest, '33-samples-gallery')
      await card.click()
      await expect(guest.getByTestId('sample-preview').getByTestId('readonly-thread')).toBeVisible()
      await guest.getByTestId('sample-use').click()
      await expect(guest.getByTestId('thread')).toBeVisible()
      const messages = guest.getByTestId('message-content')
      await expect.poll(() => messages.count()).toBeGreaterThanOrEqual(2)
      await expect(messages.first()).toContainText('Busan')
    })
  })

  // --- 4. prompt library -----------------------------------------------------------------
  test('prompts: the admin adds one; "/" in the message box finds and inserts it', async () => {
    const { page } = flow
    await test.step('the admin adds a prompt', async () => {
      await nav(page, 'nav-admin')
      await page.getByTestId('admin-tab-prompts').click()
      await page.getByTestId('prompt-add').click()
      await page.getByTestId('prompt-title').fill('E2E 회의록 요약')
      await page.getByTestId('prompt-category').fill('e2e')
      await page.getByTestId('prompt-content').fill('다음 회의록을 세 줄로 요약해 주세요:')
      await page.getByTestId('prompt-save').click()
      await toast(page, 'Saved')
      await expect(
        page.getByTestId('prompt-row').filter({ hasText: 'E2E 회의록 요약' }),
      ).toBeVisible()
      const rows = await page.getByTestId('prompt-row').count()
      expect(rows, 'the shipped library is missing').toBeGreaterThanOrEqual(2)
    })
    await test.step('"/" finds and inserts it', async () => {
      await newChatWith(guest)
      const box = guest.getByTestId('composer')
      await box.fill('')
      await box.pressSequentially('/')
      await expect(guest.getByTestId('prompt-picker')).toBeVisible()
      await box.pressSequentially('E2E')
      await expect(guest.getByTestId('prompt-option')).toHaveCount(1)
      await shot(guest, '34-prompt-picker')
      await box.press('Enter')
      await expect(box).toHaveValue('다음 회의록을 세 줄로 요약해 주세요:')
      await expect(guest.getByTestId('prompt-picker'), 'the picker stayed open').toHaveCount(0)
      await box.fill('')
    })
  })

  // --- 5. collector ----------------------------------------------------------------------
  const notes = '# 주간 회의록\n\n- 결정: 배포는 금요일 오후 3시\n- 담당: 김민지\n'
  test('collector: a Korean .md and a .csv upload; an .exe and a 20 MiB file are refused clearly', async () => {
    await home(guest)
    await nav(guest, 'nav-collector')
    await expect(guest.getByTestId('collector')).toBeVisible()
    await guest.getByTestId('collector-upload-tags').fill('회의, e2e')
    // Files on disk, not buffers: the browser reads them by path (sending 20 MiB through the
    // driver took longer than the action timeout on a busy machine).
    const dir = test.info().outputPath('uploads') // cleared by the next run
    await mkdir(dir, { recursive: true })
    const files: [string, string | Buffer][] = [
      ['회의록.md', notes],
      ['prices.csv', 'item,price\n김밥,3500\n'],
      ['setup.exe', 'MZ'],
      ['huge.txt', Buffer.alloc(20 * 1024 * 1024, 97)],
    ]
    for (const [name, content] of files) await writeFile(join(dir, name), content)
    await guest.getByTestId('collector-file').setInputFiles(
      files.map(([name]) => join(dir, name)),
      { timeout: 60_000 },
    )
    const results = guest.getByTestId('upload-note')
    await expect(results).toHaveText([
      /회의록\.md\s+—\s+added/,
      /prices\.csv\s+—\s+added/,
      /\.exe” files are not accepted/,
      /20 MiB is more than the 10 MiB limit/,
    ])
    await expect.poll(() => guest.getByTestId('collector-item').count()).toBeGreaterThanOrEqual(2)
    await guest
      .getByTestId('collector-item')
      .filter({ hasText: '회의록' })
      .getByTestId('collector-item-title')
      .click()
    await shot(guest, '35-collector')
    await guest.getByTestId('collector-search').fill('김밥')
    await expect(guest.getByTestId('collector-item')).toHaveCount(1)
    await guest.getByTestId('collector-search').fill('')
  })

  test('collector: an attached item reaches the model; an answer is saved to the collector', async () => {
    await newChatWith(guest)
    // The paperclip's menu (issue 20): files, or the collector.
    await guest.getByTestId('attach-open').click()
    await guest.getByTestId('attach-collector').click()
    await guest.getByTestId('attach-item').filter({ hasText: '회의록' }).locator('input').check()
    await guest.getByTestId('attach-done').click()
    await expect(guest.getByTestId('attachment-chip')).toBeVisible()
    // `[[echo]]`: the fake answers with every message it received.
    await send(guest, '배포는 언제인가요? [[echo]]')
    await waitAnswer(guest)
    await expect(
      lastAnswer(guest).getByTestId('message-content'),
      'the item’s text did not reach the model',
    ).toContainText('배포는 금요일 오후 3시')
    await expect(
      guest.getByTestId('user-message').last().getByTestId('message-used-items'),
    ).toBeVisible()
    await expect(guest.getByTestId('attachment-chip'), 'the chip stayed after sending').toHaveCount(
      0,
    )
    await lastAnswer(guest).getByTestId('save-to-collector').click()
    await toast(guest, 'Saved to the collector')
    await nav(guest, 'nav-collector')
    await expect.poll(() => guest.getByTestId('collector-item').count()).toBeGreaterThanOrEqual(3)
  })

  // --- 6. plan limits --------------------------------------------------------------------
  test('plans: at the daily limit the chat shows the server’s message; raising it lets the next one through', async () => {
    const { page } = flow
    await test.step('the admin puts Dave on a plan of one message a day', async () => {
      await nav(page, 'nav-admin')
      await page.getByTestId('admin-tab-plans').click()
      await page.getByTestId('plan-add').click()
      await page.getByTestId('plan-name').fill('E2E tiny')
      await page.getByTestId('plan-limit').fill('1')
      await page.getByTestId('plan-save').click()
      await expect(page.getByTestId('plan-row').filter({ hasText: 'E2E tiny' })).toBeVisible()
      await page.getByTestId('admin-tab-users').click()
      await page.getByTestId(`user-row-${DAVE}`).getByTestId('user-details').click()
      const plans = page.getByTestId('user-detail').getByTestId('user-plan')
      const tiny = plans.locator('option', { hasText: 'E2E tiny' })
      await expect(tiny).toHaveCount(1)
      await plans.selectOption((await tiny.getAttribute('value')) ?? '')
      await toast(page, 'Saved')
      await page.keyboard.press('Escape')
    })
    const banner = guest.getByTestId('limit-error')
    await test.step('Dave is refused with the server’s message', async () => {
      await newChatWith(guest)
      await send(guest, 'One more question please [[tokens:6]]')
      await expect(banner).toHaveText(/daily/i)
      await expect(banner).toHaveText(/limit/i)
      await expect(guest.getByTestId('composer'), 'the refused question is gone').toHaveValue(
        /One more question/,
      )
      await shot(guest, '36-plan-limit')
    })
    await test.step('a higher limit lets the next one through', async () => {
      await page.getByTestId('admin-tab-plans').click()
      await page
        .getByTestId('plan-row')
        .filter({ hasText: 'E2E tiny' })
        .getByTestId('plan-edit')
        .click()
      await page.getByTestId('plan-limit').fill('100')
      await page.getByTestId('plan-save').click()
      await expect(page.getByTestId('plan-row').filter({ hasText: '100' })).toBeVisible()
      await send(guest, 'One more question please [[tokens:6]]')
      await waitAnswer(guest)
      await expect(banner, 'the limit banner stayed').toHaveCount(0)
    })
  })

  // --- 7. admin oversight ----------------------------------------------------------------
  test('admin: usage per user and model over a date range, as a chart', async () => {
    const { page } = flow
    await page.getByTestId('admin-tab-usage').click()
    await expect(page.getByTestId('usage-chart')).toBeVisible()
    await expect(page.locator('[data-testid="usage-bar"] rect').first()).toBeAttached()
    await expect(page.getByTestId('usage-table')).toContainText(DAVE)
    await shot(page, '37-usage-chart')
  })

  test('admin: a user’s conversations (read, delete), feedback list, audit log', async () => {
    const { page } = flow
    await test.step('read and delete one of Dave’s conversations', async () => {
      await page.getByTestId('admin-tab-users').click()
      await page.getByTestId(`user-row-${DAVE}`).getByTestId('user-details').click()
      const dialog = page.getByTestId('user-detail')
      const items = dialog.getByTestId('user-conversation')
      await expect(items.first()).toBeVisible()
      const count = await items.count()
      await items.first().click()
      const view = page.getByTestId('admin-conversation')
      await expect(view.getByTestId('readonly-thread')).toBeVisible()
      await view.getByTestId('admin-conversation-delete').click()
      await view.getByTestId('admin-conversation-delete-confirm').click()
      await expect(items).toHaveCount(count - 1)
      await page.keyboard.press('Escape')
    })
    await test.step('the feedback list and the audit log', async () => {
      await page.getByTestId('admin-tab-feedback').click()
      await expect(page.getByTestId('feedback-row').first()).toBeVisible()
      await page.getByTestId('admin-tab-audit').click()
      await expect(page.getByTestId('audit-row').first()).toBeVisible()
      await expect(page.getByTestId('audit-table')).toContainText(/plan/i)
      await shot(page, '38-audit')
    })
  })

  // --- 8. export / import ----------------------------------------------------------------
  test('export as JSON and Markdown; the JSON imports back as a new conversation', async () => {
    const { page } = flow
    await page.goto(sharedConversationUrl, { waitUntil: 'domcontentloaded' })
    await expect(page.getByTestId('thread')).toBeVisible()
    const shown = await page.getByTestId('message-content').count()
    await page.getByTestId('chat-menu').click()
    const [json] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('export-json').click(),
    ])
    expect(json.suggestedFilename()).toMatch(/\.json$/)
    const jsonPath = await json.path()
    const document = JSON.parse(await readFile(jsonPath, 'utf8'))
    expect(JSON.stringify(document), 'the JSON lacks the conversation').toContain('Busan')
    await page.getByTestId('chat-menu').click()
    const [md] = await Promise.all([
      page.waitForEvent('download'),
      page.getByTestId('export-markdown').click(),
    ])
    const markdown = await readFile(await md.path(), 'utf8')
    expect(markdown).toContain('Busan')
    expect(markdown).toMatch(/^#|\n#/)

    await page.getByTestId('import-file').setInputFiles(jsonPath)
    await toast(page, 'Conversation imported')
    await expect(page, 'the import did not open').not.toHaveURL(sharedConversationUrl)
    await expect(page.getByTestId('thread')).toBeVisible()
    await expect(page.getByTestId('message-content')).toHaveCount(shown)
  })

  test('no script errors and no unexpected failed requests (guest and second user)', async () => {
    expect(guestProblems, guestProblems.join('; ')).toEqual([])
  })
}
