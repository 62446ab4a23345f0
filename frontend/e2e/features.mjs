// Browser checks of issue 8's features, run by chat.mjs on the same server and fake upstreams
// (after its own checks, with the admin Alice signed in): settings that follow the user,
// sharing, samples, the prompt library, the collector, plan limits, the admin pages, and
// export/import. Screenshots: 30-… in the same directory.
import { readFile } from 'node:fs/promises'

/** Failed requests these flows cause on purpose (the watcher must not count them). */
export const FEATURE_EXPECTED = [
  /^404 .*\/api\/v1\/shares\/[^/]+$/, // the deleted share link
  /^429 .*\/api\/v1\/conversations\/[^/]+\/messages$/, // the plan's daily limit
  /^403 .*\/api\/v1\/conversations\/[^/]+\/messages$/, // a model outside the plan
  /^40[13] .*\/api\/v1\/auth\/refresh$/,
]

/**
 * @param {object} t — helpers and state from chat.mjs: browser, page (Alice, admin, signed
 *   in), baseUrl, check, assert, until, shot, send, waitAnswer, register, login, watch,
 *   EXPECTED, TIMEOUT, markdownFake (the in-process fake, with `.requests`), DAVE, PASSWORD
 */
export async function runFeatureChecks(t) {
  const { browser, page, baseUrl, check, assert, until, shot, send, waitAnswer } = t
  const { register, TIMEOUT, markdownFake, DAVE } = t
  const lastAnswer = (p) => p.getByTestId('assistant-message').last()

  async function newContext(options = {}) {
    const context = await browser.newContext({
      viewport: { width: 1280, height: 860 },
      locale: 'en-US',
      colorScheme: 'light',
      ...options,
    })
    context.setDefaultTimeout(TIMEOUT)
    return context
  }

  async function toast(p, text) {
    await p.getByTestId('toast').filter({ hasText: text }).first().waitFor()
  }

  /** Back to the signed-in app (from the share page, which has no sidebar). */
  async function home(p) {
    // A dialog left open by a failed check would cover everything: close it.
    for (const close of await p.locator('.modal-head .icon-btn').all()) {
      await close.click().catch(() => undefined)
    }
    if ((await p.getByTestId('sidebar').count()) === 0) {
      await p.goto(baseUrl, { waitUntil: 'domcontentloaded' })
      await p.getByTestId('sidebar').waitFor()
    }
  }

  async function newChatWith(p, model) {
    await home(p)
    await p.getByTestId('new-chat').click()
    await p.getByTestId('welcome').waitFor()
    if (model) {
      const picker = p.getByTestId('model-picker')
      await until(
        async () => (await picker.locator(`option[value="${model}"]`).count()) === 1,
        `model ${model} is not offered`,
      )
      await picker.selectOption(model)
    }
  }

  // --- 1. settings follow the user ------------------------------------------------------
  await page.goto(`${baseUrl}settings`, { waitUntil: 'domcontentloaded' })
  await page.getByTestId('lang-en').click()

  await check(
    'settings follow the user: theme, default model and system prompt from another device',
    async () => {
      await page.getByTestId('theme-dark').click()
      await toast(page, 'Saved')
      const select = page.getByTestId('default-model')
      const values = await select.locator('option').evaluateAll((os) => os.map((o) => o.value))
      const model = values.find((v) => v)
      assert(model, 'no model to choose as default')
      await select.selectOption(model)
      await toast(page, 'Saved')
      await page.getByTestId('system-prompt').fill('Answer like a pirate.')
      await page.getByTestId('save-system-prompt').click()
      await toast(page, 'Saved')
      const stored = await page.evaluate(() => JSON.stringify(localStorage))
      assert(!stored.includes('pirate'), 'the system prompt is in localStorage')

      const laptop = await newContext()
      try {
        const other = await laptop.newPage()
        await t.login(other, t.ALICE)
        await other.getByTestId('sidebar').waitFor()
        await until(
          async () => (await other.locator('html').getAttribute('data-theme')) === 'dark',
          'the dark theme did not follow to the other device',
        )
        await other.getByTestId('nav-settings').click()
        await until(
          async () =>
            (await other.getByTestId('system-prompt').inputValue()) === 'Answer like a pirate.',
          'the system prompt did not follow',
        )
        const chosen = await other.getByTestId('default-model').inputValue()
        assert(chosen === model, `default model on the other device: "${chosen}"`)
      } finally {
        await laptop.close()
      }
      await page.getByTestId('system-prompt').fill('')
      await page.getByTestId('save-system-prompt').click()
      await page.getByTestId('theme-light').click()
      await toast(page, 'Saved')
    },
  )

  // --- 2. share --------------------------------------------------------------------------
  let shareUrl = ''
  let sharedConversationUrl = ''
  await check('share: a link to copy; the snapshot leaves out later messages', async () => {
    await newChatWith(page)
    await send(page, 'Plan a day in Busan by the sea [[tokens:30]]')
    await waitAnswer(page)
    sharedConversationUrl = page.url()
    await page.getByTestId('share-open').click()
    await page.getByTestId('share-expiry').selectOption('7')
    await page.getByTestId('share-create').click()
    const link = page.getByTestId('share-link')
    await link.waitFor()
    shareUrl = await link.inputValue()
    assert(/\/s\/[A-Za-z0-9_-]{16,}$/.test(shareUrl), `share link "${shareUrl}"`)
    await shot(page, '30-share-dialog')
    await page.keyboard.press('Escape')
    await send(page, 'A later question that must stay private [[tokens:8]]')
    await waitAnswer(page)
  })

  const visitor = await newContext()
  const guest = await visitor.newPage()
  const guestProblems = t.watch(guest, [...t.EXPECTED, ...FEATURE_EXPECTED])
  try {
    await check(
      'share: the link opens signed out, read-only, without the later messages',
      async () => {
        assert(shareUrl, 'no share link')
        await guest.goto(shareUrl, { waitUntil: 'domcontentloaded' })
        await guest.getByTestId('shared-view').waitFor()
        await guest.getByTestId('readonly-thread').waitFor()
        const texts = await guest.getByTestId('message-content').allInnerTexts()
        assert(texts.length === 2, `${texts.length} messages shown (want the 2 of the snapshot)`)
        assert(texts[0].includes('Busan'), `first message "${texts[0]}"`)
        assert(!texts.join(' ').includes('private'), 'a message added after sharing is visible')
        assert(
          (await guest.getByTestId('composer').count()) === 0,
          'a message box on the share page',
        )
        await shot(guest, '31-share-signed-out')
        // Phone width: nothing sticks out sideways.
        await guest.setViewportSize({ width: 375, height: 740 })
        const overflow = await guest.evaluate(
          () => document.documentElement.scrollWidth - document.documentElement.clientWidth,
        )
        await shot(guest, '31b-share-phone')
        await guest.setViewportSize({ width: 1280, height: 860 })
        assert(overflow <= 0, `the share page is ${overflow}px wider than a phone`)
      },
    )

    await check(
      'share: "continue" asks to sign in, then clones it into the new user’s chats',
      async () => {
        await guest.getByTestId('continue-conversation').click()
        await guest.getByTestId('login-form').waitFor()
        assert(/redirect=/.test(guest.url()), `login without the way back: ${guest.url()}`)
        await register(guest, DAVE, 'Dave')
        await guest.getByTestId('sidebar').waitFor()
        await guest.goto(shareUrl, { waitUntil: 'domcontentloaded' })
        const button = guest.getByTestId('continue-conversation')
        await until(
          async () => /Continue this/.test(await button.innerText()),
          'not signed in here',
        )
        await button.click()
        await guest.getByTestId('thread').waitFor()
        assert(/\/c\/[^/]+$/.test(new URL(guest.url()).pathname), `after cloning at ${guest.url()}`)
        assert(guest.url() !== sharedConversationUrl, 'landed on the owner’s conversation')
        const texts = await guest.getByTestId('message-content').allInnerTexts()
        assert(
          texts.length === 2 && texts[0].includes('Busan'),
          `clone shows ${texts.length} messages: ${JSON.stringify(texts).slice(0, 300)}`,
        )
        await send(guest, 'And in the evening? [[tokens:10]]')
        await waitAnswer(guest)
      },
    )

    await check(
      'share: listed in the owner’s settings; deleted, the link answers "does not exist"',
      async () => {
        await page.getByTestId('nav-settings').click()
        const row = page.getByTestId('share-row').first()
        await row.waitFor()
        await row.getByTestId('share-delete').click()
        await row.getByTestId('share-delete-confirm').click()
        await toast(page, 'Link deleted')
        await guest.goto(shareUrl, { waitUntil: 'domcontentloaded' })
        await guest.getByTestId('share-missing').waitFor()
        await shot(guest, '32-share-deleted')
      },
    )

    // --- 3. samples ------------------------------------------------------------------------
    await check(
      'samples: the admin publishes a conversation; another user starts from it',
      async () => {
        await page.goto(sharedConversationUrl, { waitUntil: 'domcontentloaded' })
        await page.getByTestId('thread').waitFor()
        await page.getByTestId('chat-menu').click()
        await page.getByTestId('publish-sample').click()
        await page.getByTestId('sample-title').fill('A day in Busan')
        await page
          .getByTestId('sample-description')
          .fill('Beaches, markets and a night view — 부산 하루 여행')
        await page.getByTestId('sample-save').click()
        await toast(page, 'Published')

        await newChatWith(guest)
        await guest.getByTestId('samples-gallery').waitFor()
        const card = guest.getByTestId('sample-card').filter({ hasText: 'A day in Busan' })
        await card.waitFor()
        await shot(guest, '33-samples-gallery')
        await card.click()
        await guest.getByTestId('sample-preview').getByTestId('readonly-thread').waitFor()
        await guest.getByTestId('sample-use').click()
        await guest.getByTestId('thread').waitFor()
        const texts = await guest.getByTestId('message-content').allInnerTexts()
        assert(
          texts.length >= 2 && texts[0].includes('Busan'),
          `sample clone: ${texts.length} messages`,
        )
      },
    )

    // --- 4. prompt library -----------------------------------------------------------------
    await check(
      'prompts: the admin adds one; "/" in the message box finds and inserts it',
      async () => {
        await page.getByTestId('nav-admin').click()
        await page.getByTestId('admin-tab-prompts').click()
        await page.getByTestId('prompt-add').click()
        await page.getByTestId('prompt-title').fill('E2E 회의록 요약')
        await page.getByTestId('prompt-category').fill('e2e')
        await page.getByTestId('prompt-content').fill('다음 회의록을 세 줄로 요약해 주세요:')
        await page.getByTestId('prompt-save').click()
        await toast(page, 'Saved')
        const rows = await page.getByTestId('prompt-row').count()
        assert(rows >= 2, `only ${rows} prompts: the shipped library is missing`)

        await newChatWith(guest)
        const box = guest.getByTestId('composer')
        await box.fill('')
        await box.pressSequentially('/')
        await guest.getByTestId('prompt-picker').waitFor()
        const all = await guest.getByTestId('prompt-option').count()
        await box.pressSequentially('E2E')
        await until(
          async () => (await guest.getByTestId('prompt-option').count()) === 1,
          () => `filter kept many of ${all}`,
        )
        await shot(guest, '34-prompt-picker')
        await box.press('Enter')
        const value = await box.inputValue()
        assert(value === '다음 회의록을 세 줄로 요약해 주세요:', `inserted "${value}"`)
        assert((await guest.getByTestId('prompt-picker').count()) === 0, 'the picker stayed open')
        await box.fill('')
      },
    )

    // --- 5. collector ----------------------------------------------------------------------
    const notes = '# 주간 회의록\n\n- 결정: 배포는 금요일 오후 3시\n- 담당: 김민지\n'
    await check(
      'collector: a Korean .md and a .csv upload; an .exe and a 20 MiB file are refused clearly',
      async () => {
        await home(guest)
        await guest.getByTestId('nav-collector').click()
        await guest.getByTestId('collector').waitFor()
        await guest.getByTestId('collector-upload-tags').fill('회의, e2e')
        await guest.getByTestId('collector-file').setInputFiles([
          { name: '회의록.md', mimeType: 'text/markdown', buffer: Buffer.from(notes) },
          {
            name: 'prices.csv',
            mimeType: 'text/csv',
            buffer: Buffer.from('item,price\n김밥,3500\n'),
          },
          { name: 'setup.exe', mimeType: 'application/octet-stream', buffer: Buffer.from('MZ') },
          { name: 'huge.txt', mimeType: 'text/plain', buffer: Buffer.alloc(20 * 1024 * 1024, 97) },
        ])
        await until(
          async () => (await guest.getByTestId('upload-note').count()) === 4,
          'upload results missing',
        )
        const lines = (await guest.getByTestId('upload-note').allInnerTexts()).map((l) =>
          l.replace(/\s+/g, ' '),
        )
        assert(/회의록\.md — added/.test(lines[0]), `md: ${lines[0]}`)
        assert(/prices\.csv — added/.test(lines[1]), `csv: ${lines[1]}`)
        assert(/\.exe” files are not accepted/.test(lines[2]), `exe: ${lines[2]}`)
        assert(/20 MiB is more than the 10 MiB limit/.test(lines[3]), `big: ${lines[3]}`)
        await until(
          async () => (await guest.getByTestId('collector-item').count()) >= 2,
          'items not listed',
        )
        await guest
          .getByTestId('collector-item')
          .filter({ hasText: '회의록' })
          .getByTestId('collector-item-title')
          .click()
        await shot(guest, '35-collector')
        await guest.getByTestId('collector-search').fill('김밥')
        await until(
          async () => (await guest.getByTestId('collector-item').count()) === 1,
          'search did not narrow',
        )
        await guest.getByTestId('collector-search').fill('')
      },
    )

    await check(
      'collector: an attached item reaches the model; an answer is saved to the collector',
      async () => {
        await newChatWith(guest, 'fake-gpt')
        await guest.getByTestId('attach-open').click()
        await guest
          .getByTestId('attach-item')
          .filter({ hasText: '회의록' })
          .locator('input')
          .check()
        await guest.getByTestId('attach-done').click()
        await guest.getByTestId('attachment-chip').waitFor()
        const before = markdownFake.requests.length
        await send(guest, '배포는 언제인가요? [[tokens:12]]')
        await waitAnswer(guest)
        const sent = markdownFake.requests.slice(before).map((b) => JSON.stringify(b.messages))
        assert(
          sent.some((m) => m.includes('배포는 금요일 오후 3시')),
          'the item’s text did not reach the model',
        )
        await guest.getByTestId('user-message').last().getByTestId('message-used-items').waitFor()
        assert(
          (await guest.getByTestId('attachment-chip').count()) === 0,
          'the chip stayed after sending',
        )
        await lastAnswer(guest).getByTestId('save-to-collector').click()
        await toast(guest, 'Saved to the collector')
        await guest.getByTestId('nav-collector').click()
        await until(
          async () => (await guest.getByTestId('collector-item').count()) >= 3,
          'the saved answer is not listed',
        )
      },
    )

    // --- 6. plan limits --------------------------------------------------------------------
    await check(
      'plans: at the daily limit the chat shows the server’s message; raising it lets the next one through',
      async () => {
        await page.getByTestId('nav-admin').click()
        await page.getByTestId('admin-tab-plans').click()
        await page.getByTestId('plan-add').click()
        await page.getByTestId('plan-name').fill('E2E tiny')
        await page.getByTestId('plan-limit').fill('1')
        await page.getByTestId('plan-save').click()
        await page.getByTestId('plan-row').filter({ hasText: 'E2E tiny' }).waitFor()
        await page.getByTestId('admin-tab-users').click()
        await page.getByTestId(`user-row-${DAVE}`).getByTestId('user-details').click()
        const dialog = page.getByTestId('user-detail')
        await dialog.getByTestId('user-plan').waitFor()
        await until(
          async () => (await dialog.getByTestId('user-plan').locator('option').count()) > 1,
          'no plans offered',
        )
        const planId = await dialog
          .getByTestId('user-plan')
          .locator('option', { hasText: 'E2E tiny' })
          .getAttribute('value')
        await dialog.getByTestId('user-plan').selectOption(planId)
        await toast(page, 'Saved')
        await page.keyboard.press('Escape')

        await newChatWith(guest)
        await send(guest, 'One more question please [[tokens:6]]')
        const banner = guest.getByTestId('limit-error')
        await banner.waitFor()
        const text = await banner.innerText()
        assert(/daily/i.test(text) && /limit/i.test(text), `banner: "${text}"`)
        const kept = await guest.getByTestId('composer').inputValue()
        assert(kept.includes('One more question'), `the refused question is gone: "${kept}"`)
        await shot(guest, '36-plan-limit')

        await page.getByTestId('admin-tab-plans').click()
        await page
          .getByTestId('plan-row')
          .filter({ hasText: 'E2E tiny' })
          .getByTestId('plan-edit')
          .click()
        await page.getByTestId('plan-limit').fill('100')
        await page.getByTestId('plan-save').click()
        await page.getByTestId('plan-row').filter({ hasText: '100' }).waitFor()
        await send(guest, 'One more question please [[tokens:6]]')
        await waitAnswer(guest)
        assert((await banner.count()) === 0, 'the limit banner stayed')
      },
    )

    // --- 7. admin oversight ----------------------------------------------------------------
    await check('admin: usage per user and model over a date range, as a chart', async () => {
      await page.getByTestId('admin-tab-usage').click()
      await page.getByTestId('usage-chart').waitFor()
      const bars = await page.locator('[data-testid="usage-bar"] rect').count()
      assert(bars >= 1, 'no bar in the usage chart')
      const table = await page.getByTestId('usage-table').innerText()
      assert(table.includes(DAVE), `usage table: ${table.replace(/\s+/g, ' ').slice(0, 300)}`)
      await shot(page, '37-usage-chart')
    })

    await check(
      'admin: a user’s conversations (read, delete), feedback list, audit log',
      async () => {
        await page.getByTestId('admin-tab-users').click()
        await page.getByTestId(`user-row-${DAVE}`).getByTestId('user-details').click()
        const dialog = page.getByTestId('user-detail')
        const item = dialog.getByTestId('user-conversation').first()
        await item.waitFor()
        const count = await dialog.getByTestId('user-conversation').count()
        await item.click()
        const view = page.getByTestId('admin-conversation')
        await view.getByTestId('readonly-thread').waitFor()
        await view.getByTestId('admin-conversation-delete').click()
        await view.getByTestId('admin-conversation-delete-confirm').click()
        await until(
          async () => (await dialog.getByTestId('user-conversation').count()) === count - 1,
          'the conversation was not removed',
        )
        await page.keyboard.press('Escape')
        await page.getByTestId('admin-tab-feedback').click()
        await page.getByTestId('feedback-row').first().waitFor()
        await page.getByTestId('admin-tab-audit').click()
        await page.getByTestId('audit-row').first().waitFor()
        const audit = await page.getByTestId('audit-table').innerText()
        assert(/plan/i.test(audit), `no plan action in the audit log: ${audit.slice(0, 300)}`)
        await shot(page, '38-audit')
      },
    )

    // --- 8. export / import ----------------------------------------------------------------
    await check(
      'export as JSON and Markdown; the JSON imports back as a new conversation',
      async () => {
        await page.goto(sharedConversationUrl, { waitUntil: 'domcontentloaded' })
        await page.getByTestId('thread').waitFor()
        const shown = await page.getByTestId('message-content').count()
        await page.getByTestId('chat-menu').click()
        const [json] = await Promise.all([
          page.waitForEvent('download'),
          page.getByTestId('export-json').click(),
        ])
        assert(json.suggestedFilename().endsWith('.json'), `file ${json.suggestedFilename()}`)
        const document = JSON.parse(await readFile(await json.path(), 'utf8'))
        assert(JSON.stringify(document).includes('Busan'), 'the JSON lacks the conversation')
        await page.getByTestId('chat-menu').click()
        const [md] = await Promise.all([
          page.waitForEvent('download'),
          page.getByTestId('export-markdown').click(),
        ])
        const markdown = await readFile(await md.path(), 'utf8')
        assert(
          markdown.includes('Busan') && /^#|\n#/.test(markdown),
          `markdown: ${markdown.slice(0, 120)}`,
        )

        await page.getByTestId('import-file').setInputFiles(await json.path())
        await toast(page, 'Conversation imported')
        await until(async () => page.url() !== sharedConversationUrl, 'the import did not open')
        await page.getByTestId('thread').waitFor()
        const imported = await page.getByTestId('message-content').count()
        assert(imported === shown, `imported ${imported} messages, exported ${shown}`)
      },
    )

    await check(
      'no script errors and no unexpected failed requests (guest and second user)',
      async () => {
        assert(guestProblems.length === 0, guestProblems.join('; '))
      },
    )
  } finally {
    await visitor.close()
  }
}
