// Issue 21 in the browser: organize and govern. Runs after chat.spec.ts on its server (the
// admin ALICE exists, with the fake LLM's connection). Folders in the sidebar (new, subfolder,
// "Move to folder", drag and drop, "Remove from folder", delete keeping the conversations),
// tags (the editor, the chips on items, the tag filter, `tag:work 강아지` in the search),
// temporary chats (the notice, the banner, never listed, deleted on leaving and on closing the
// tab, forced by a group), the admin's Retention tab (preview before save, run now) and Groups
// tab (editor, members), and Settings → Import from ChatGPT with a ZIP built here.
// Screenshots: organize-….
import { mkdir, writeFile } from 'node:fs/promises'
import { join } from 'node:path'

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
  chooseLanguage,
  expectAccessible,
  login,
  newContext,
  overflow,
  send,
  shot,
  toast,
  waitAnswer,
  watch,
} from './helpers'

test.describe.configure({ mode: 'serial' })

const suffix = process.env.E2E_SUFFIX || Date.now().toString(36).slice(-5)
const FOLDER = `Work ${suffix}`
const SUBFOLDER = `Clients ${suffix}`
const DOG = `E2E 강아지 산책 ${suffix}`
const BUDGET = `E2E budget ${suffix}`
const GROUP = `E2E group ${suffix}`
const IMPORTED = `Jeju trip ${suffix}`

let context: BrowserContext
let page: Page
let problems: string[] = []
let headers: Record<string, string> = {}
const made = { dog: '', budget: '' }

/** The refusals this spec provokes on purpose. */
const EXPECTED_HERE: RegExp[] = [
  ...EXPECTED,
  /^422 .*\/api\/v1\/conversations\/import\/chatgpt$/, // the wrong file
  /^404 .*\/api\/v1\/conversations\/[^/?]+$/, // the deleted temporary chats
]

/** An access token of ALICE's for the API calls that prepare and check. */
async function token(request: APIRequestContext): Promise<string> {
  const response = await request.post(at('api/v1/auth/login'), {
    data: { username: ALICE, password: PASSWORD },
  })
  expect(response.ok(), `login answered ${response.status()}`).toBe(true)
  return ((await response.json()) as { access_token: string }).access_token
}

/** A conversation titled `title` with one exchange through the fake LLM (in the browser). */
async function conversationWith(request: APIRequestContext, title: string, question: string) {
  const created = await request.post(at('api/v1/conversations'), { headers, data: {} })
  expect(created.ok(), `create answered ${created.status()}`).toBe(true)
  const id = ((await created.json()) as { id: string }).id
  await page.goto(at(`c/${id}`), { waitUntil: 'domcontentloaded' })
  await expect(page.getByTestId('composer')).toBeVisible()
  await send(page, question)
  await waitAnswer(page)
  // The first answer names the conversation (a fallback, then the model's title, a moment
  // later): rename it until the name sticks, then show the list again.
  await expect
    .poll(
      async () => {
        await request.patch(at(`api/v1/conversations/${id}`), { headers, data: { title } })
        await new Promise((resolve) => setTimeout(resolve, 1000))
        const got = await request.get(at(`api/v1/conversations/${id}`), { headers })
        return ((await got.json()) as { title: string }).title
      },
      { timeout: 30_000 },
    )
    .toBe(title)
  await page.reload({ waitUntil: 'domcontentloaded' })
  await expect(page.getByTestId('thread')).toBeVisible()
  return id
}

const sidebar = (p: Page) => p.getByTestId('sidebar')
/** A conversation's row in the sidebar, by its title. */
const row = (p: Page, title: string) =>
  sidebar(p).getByTestId('conversation-item').filter({ hasText: title })
const folderRow = (p: Page, name: string) =>
  sidebar(p)
    .getByTestId('folder')
    .filter({ has: p.getByTestId('folder-name').getByText(name, { exact: true }) })
    .first()

async function openMenuItem(p: Page, title: string, item: string): Promise<void> {
  const r = row(p, title).first()
  await r.hover()
  await r.getByTestId('conversation-menu').click()
  await r.getByTestId(item).click()
}

// --- a ZIP as ChatGPT's export writes it (stored, no compression) --------------------------

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1
  return c >>> 0
})

function crc32(data: Buffer): number {
  let crc = 0xffffffff
  for (const byte of data) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8)
  return (crc ^ 0xffffffff) >>> 0
}

/** A ZIP of `files` (name → content), every entry stored: enough for any ZIP reader. */
function storedZip(files: Record<string, string | Buffer>): Buffer {
  const locals: Buffer[] = []
  const centrals: Buffer[] = []
  let offset = 0
  for (const [name, content] of Object.entries(files)) {
    const data = Buffer.isBuffer(content) ? content : Buffer.from(content, 'utf8')
    const fileName = Buffer.from(name, 'utf8')
    const crc = crc32(data)
    const local = Buffer.alloc(30)
    local.writeUInt32LE(0x04034b50, 0)
    local.writeUInt16LE(20, 4) // version needed
    local.writeUInt16LE(0x0800, 6) // UTF-8 names
    local.writeUInt16LE(0, 8) // stored
    local.writeUInt32LE(0, 10) // time, date
    local.writeUInt32LE(crc, 14)
    local.writeUInt32LE(data.length, 18)
    local.writeUInt32LE(data.length, 22)
    local.writeUInt16LE(fileName.length, 26)
    local.writeUInt16LE(0, 28)
    const central = Buffer.alloc(46)
    central.writeUInt32LE(0x02014b50, 0)
    central.writeUInt16LE(20, 4) // made by
    central.writeUInt16LE(20, 6) // needed
    central.writeUInt16LE(0x0800, 8)
    central.writeUInt16LE(0, 10)
    central.writeUInt32LE(0, 12)
    central.writeUInt32LE(crc, 16)
    central.writeUInt32LE(data.length, 20)
    central.writeUInt32LE(data.length, 24)
    central.writeUInt16LE(fileName.length, 28)
    // extra, comment, disk, internal attributes: 0
    central.writeUInt32LE(0, 38) // external attributes
    central.writeUInt32LE(offset, 42)
    locals.push(local, fileName, data)
    centrals.push(central, fileName)
    offset += local.length + fileName.length + data.length
  }
  const directory = Buffer.concat(centrals)
  const end = Buffer.alloc(22)
  end.writeUInt32LE(0x06054b50, 0)
  end.writeUInt16LE(Object.keys(files).length, 8)
  end.writeUInt16LE(Object.keys(files).length, 10)
  end.writeUInt32LE(directory.length, 12)
  end.writeUInt32LE(offset, 16)
  return Buffer.concat([...locals, directory, end])
}

/** One ChatGPT message node of a `mapping`. */
function node(
  id: string,
  parent: string | null,
  children: string[],
  message: Record<string, unknown> | null,
) {
  return { id, parent, children, message: message && { id, ...message } }
}

/**
 * ChatGPT's `conversations.json`: a conversation with a hidden system message, an edited
 * question (two versions), an image part, and a conversation whose `mapping` loops.
 */
function chatGptExport(): string {
  const text = (role: string, t: number, ...parts: unknown[]) => ({
    author: { role },
    create_time: t,
    content: {
      content_type: parts.some((p) => typeof p !== 'string') ? 'multimodal_text' : 'text',
      parts,
    },
    metadata: role === 'assistant' ? { model_slug: 'gpt-4o' } : {},
  })
  const good = {
    id: 'conv-good',
    title: IMPORTED,
    create_time: 1_700_000_000.5,
    update_time: 1_700_000_500.25,
    current_node: 'a2',
    mapping: {
      root: node('root', null, ['sys'], null),
      sys: node('sys', 'root', ['u1', 'u2'], {
        author: { role: 'system' },
        content: { content_type: 'text', parts: [''] },
        metadata: { is_visually_hidden_from_conversation: true },
      }),
      u1: node('u1', 'sys', ['a1'], text('user', 1_700_000_010, '제주도 여행 계획 짜줘')),
      a1: node('a1', 'u1', [], text('assistant', 1_700_000_020, '첫째 날: 성산일출봉')),
      u2: node(
        'u2',
        'sys',
        ['a2'],
        text(
          'user',
          1_700_000_030,
          { content_type: 'image_asset_pointer', asset_pointer: 'file-service://file-1' },
          '제주도 3일 여행 계획 짜줘 (사진 참고)',
        ),
      ),
      a2: node('a2', 'u2', [], text('assistant', 1_700_000_040, '첫째 날: 한라산, 둘째 날: 우도')),
    },
  }
  const looping = {
    id: 'conv-loop',
    title: `Loop ${suffix}`,
    create_time: 1_700_000_000,
    update_time: 1_700_000_000,
    current_node: 'x',
    mapping: {
      x: node('x', 'y', ['y'], text('user', 1_700_000_001, 'hello')),
      y: node('y', 'x', ['x'], text('assistant', 1_700_000_002, 'hi')),
    },
  }
  return JSON.stringify([good, looping])
}

test.beforeAll(async ({ browser }) => {
  context = await newContext(browser)
  page = await context.newPage()
  problems = watch(page, EXPECTED_HERE)
  await login(page, ALICE)
  await expect(page.getByTestId('composer')).toBeVisible()
})

test.afterAll(async () => {
  await context?.close()
})

test.describe('organize and govern', () => {
  test('prepare: two conversations through the fake LLM', async ({ request }) => {
    headers = { Authorization: `Bearer ${await token(request)}` }
    made.dog = await conversationWith(request, DOG, '강아지 산책은 하루 몇 번? [[tokens:12]]')
    made.budget = await conversationWith(request, BUDGET, 'A monthly budget, briefly [[tokens:12]]')
    await expect(row(page, DOG)).toHaveCount(1)
    await expect(row(page, BUDGET)).toHaveCount(1)
  })

  test('folders: create one and a subfolder; file by menu and by drag and drop', async () => {
    await test.step('a new folder and a subfolder', async () => {
      await sidebar(page).getByTestId('folder-new').click()
      const dialog = page.getByTestId('folder-dialog')
      await dialog.getByTestId('folder-name').fill(FOLDER)
      await dialog.getByTestId('folder-save').click()
      await expect(folderRow(page, FOLDER)).toBeVisible()
      await folderRow(page, FOLDER).hover()
      await folderRow(page, FOLDER).getByTestId('folder-menu').first().click()
      await page.getByTestId('folder-new-sub').click()
      await page.getByTestId('folder-dialog').getByTestId('folder-name').fill(SUBFOLDER)
      await page.getByTestId('folder-dialog').getByTestId('folder-save').click()
      await expect(page.getByTestId('folder-dialog')).toHaveCount(0)
    })

    await test.step('"Move to folder" from the conversation’s menu', async () => {
      await openMenuItem(page, DOG, 'menu-move')
      const dialog = page.getByTestId('move-dialog')
      await expect(dialog).toBeVisible()
      await dialog.getByLabel(FOLDER, { exact: true }).check()
      await dialog.getByTestId('move-save').click()
      await toast(page, `Moved to ${FOLDER}`)
      // The main list shows the unfiled conversations only.
      await expect(
        sidebar(page)
          .locator('.group-list > [data-testid="conversation-item"]')
          .filter({ hasText: DOG }),
      ).toHaveCount(0)
    })

    await test.step('dragging a conversation onto the folder files it', async () => {
      const target = folderRow(page, FOLDER).getByTestId('folder-toggle').first()
      await row(page, BUDGET).first().dragTo(target)
      await toast(page, `Moved to ${FOLDER}`)
    })

    await test.step('opening the folder lists both, and its subfolder', async () => {
      const toggle = folderRow(page, FOLDER).getByTestId('folder-toggle').first()
      if ((await toggle.getAttribute('aria-expanded')) !== 'true') await toggle.click()
      await expect(toggle).toHaveAttribute('aria-expanded', 'true')
      const inside = folderRow(page, FOLDER).getByTestId('folder-children').first()
      await expect(inside.getByTestId('conversation-item').filter({ hasText: DOG })).toHaveCount(1)
      await expect(inside.getByTestId('conversation-item').filter({ hasText: BUDGET })).toHaveCount(
        1,
      )
      await expect(inside.getByTestId('folder-name').getByText(SUBFOLDER)).toBeVisible()
      await expect(toggle).toContainText('2')
      await shot(page, 'organize-01-folders')
      await expectAccessible(page, 'the sidebar with folders')
    })

    await test.step('on a phone the folders fit the drawer', async () => {
      await page.setViewportSize({ width: 390, height: 844 })
      await page.getByTestId('open-sidebar').click()
      await expect(folderRow(page, FOLDER)).toBeVisible()
      expect(await overflow(page), 'wider than the phone').toBeLessThanOrEqual(0)
      await shot(page, 'organize-02-folders-phone')
      await page.keyboard.press('Escape')
      await page.setViewportSize({ width: 1280, height: 800 })
    })
  })

  test('folders: "Remove from folder"; deleting a folder can keep its conversations', async () => {
    await page.goto(at(''), { waitUntil: 'domcontentloaded' })
    const toggle = folderRow(page, FOLDER).getByTestId('folder-toggle').first()
    await toggle.click()
    const inside = folderRow(page, FOLDER).getByTestId('folder-children').first()
    const budget = inside.getByTestId('conversation-item').filter({ hasText: BUDGET })
    await budget.hover()
    await budget.getByTestId('conversation-menu').click()
    await budget.getByTestId('menu-unfile').click()
    await toast(page, 'Removed from the folder')
    await expect(budget).toHaveCount(0)
    await expect(row(page, BUDGET)).toHaveCount(1)

    await folderRow(page, FOLDER).hover()
    await folderRow(page, FOLDER).getByTestId('folder-menu').first().click()
    await page.getByTestId('folder-delete').click()
    const dialog = page.getByTestId('folder-delete-dialog')
    await expect(dialog.getByTestId('folder-delete-keep')).toBeChecked()
    await shot(page, 'organize-03-folder-delete')
    await dialog.getByTestId('folder-delete-confirm').click()
    await toast(page, 'Folder deleted')
    await expect(folderRow(page, FOLDER)).toHaveCount(0)
    // Kept: back in the chat list.
    await expect(row(page, DOG)).toHaveCount(1)
  })

  test('tags: edit in a dialog, shown on the item, filter by a tag, tag: in the search', async () => {
    await openMenuItem(page, DOG, 'menu-tags')
    const dialog = page.getByTestId('tag-dialog')
    const input = dialog.getByTestId('tag-input')
    await input.fill('work')
    await input.press('Enter')
    await input.pressSequentially('여행,')
    await expect(dialog.getByTestId('tag-chip')).toHaveText(['work', '여행'])
    await expectAccessible(page, 'the tag editor')
    await dialog.getByTestId('tag-save').click()
    await toast(page, 'Tags saved')
    await expect(row(page, DOG).getByTestId('conversation-tags')).toContainText('work')

    await test.step('the tag filter shows only the tagged conversations', async () => {
      await page.getByTestId('tag-filter-toggle').click()
      await page.getByTestId('tag-filter-chip').filter({ hasText: 'work' }).click()
      await expect(page.getByTestId('active-tags')).toContainText('#work')
      await expect(row(page, DOG)).toHaveCount(1)
      await expect(row(page, BUDGET)).toHaveCount(0)
      await page.getByTestId('active-tag-clear').click()
      await expect(row(page, BUDGET)).toHaveCount(1)
    })

    await test.step('"tag:work 강아지" in the search: the tag as a removable chip', async () => {
      await page.getByTestId('search').fill('tag:work 강아지')
      await expect(page.getByTestId('active-tags')).toContainText('#work')
      await expect(row(page, DOG)).toHaveCount(1)
      await expect(row(page, BUDGET)).toHaveCount(0)
      await shot(page, 'organize-04-tag-search')
      await page.getByTestId('active-tag-clear').click()
      await expect(page.getByTestId('search')).toHaveValue('강아지')
      await page.getByTestId('search').fill('')
    })
  })

  test('temporary chat: the notice, the banner, never listed, deleted on leaving', async ({
    request,
  }) => {
    await page.getByTestId('new-chat').click()
    await expect(page.getByTestId('welcome')).toBeVisible()
    await page.getByTestId('temporary-toggle').check()
    await expect(page.getByTestId('temporary-notice')).toContainText('not saved to your history')
    await expect(page.getByTestId('temporary-notice')).toContainText('24 hours')
    await shot(page, 'organize-05-temporary-notice')

    await send(page, 'A secret question [[tokens:8]]')
    await expect(page).toHaveURL(/\/c\/[^/]+$/)
    await waitAnswer(page)
    const id = new URL(page.url()).pathname.split('/').pop() ?? ''
    await expect(page.getByTestId('temporary-banner')).toBeVisible()
    await shot(page, 'organize-06-temporary-banner')
    const listed = await request.get(at('api/v1/conversations?limit=100'), { headers })
    expect(JSON.stringify(await listed.json())).not.toContain(id)
    await expect(sidebar(page).getByText('A secret question')).toHaveCount(0)

    const deleted = page.waitForResponse(
      (r) => r.request().method() === 'DELETE' && r.url().endsWith(`/conversations/${id}`),
    )
    await page.getByTestId('new-chat').click()
    expect((await deleted).status(), 'the DELETE of the temporary chat').toBeLessThan(300)
    const gone = await request.get(at(`api/v1/conversations/${id}`), { headers })
    expect(gone.status()).toBe(404)
    await page.getByTestId('temporary-toggle').uncheck()
  })

  test('temporary chat: closing the tab deletes it (keepalive)', async ({ request }) => {
    const tab = await context.newPage()
    await tab.goto(at(''), { waitUntil: 'domcontentloaded' })
    await expect(tab.getByTestId('welcome')).toBeVisible()
    await tab.getByTestId('temporary-toggle').check()
    await send(tab, 'Forget me when I close [[tokens:6]]')
    await expect(tab).toHaveURL(/\/c\/[^/]+$/)
    await waitAnswer(tab)
    const id = new URL(tab.url()).pathname.split('/').pop() ?? ''
    await tab.close({ runBeforeUnload: true })
    await expect
      .poll(async () => (await request.get(at(`api/v1/conversations/${id}`), { headers })).status())
      .toBe(404)
  })

  test('retention: preview before saving, then run now', async () => {
    await page.goto(at('admin?tab=retention'), { waitUntil: 'domcontentloaded' })
    const panel = page.getByTestId('retention-panel')
    await expect(panel).toBeVisible()
    // Ten years: nothing of this run is that old, so nothing is deleted.
    await panel.getByTestId('retention-days').fill('3650')
    await panel.getByTestId('retention-archived-days').fill('3650')
    await panel.getByTestId('retention-preview-btn').click()
    await expect(panel.getByTestId('retention-preview')).toHaveText(
      /0 conversations \(0 archived\) from 0 users would be deleted now/,
    )
    await shot(page, 'organize-07-retention-preview')
    await expectAccessible(page, 'the retention tab')
    await panel.getByTestId('retention-save').click()
    await toast(page, 'Saved')
    await panel.getByTestId('retention-run').click()
    await panel.getByTestId('retention-run-confirm').click()
    await toast(page, '0 conversations and 0 archived ones deleted')
    // Off again for the other specs.
    await panel.getByTestId('retention-days').fill('')
    await panel.getByTestId('retention-archived-days').fill('')
    await panel.getByTestId('retention-save').click()
    await toast(page, 'Saved')
  })

  test('groups: create with a model and members; "every chat is temporary" locks the switch', async () => {
    await page.goto(at('admin?tab=groups'), { waitUntil: 'domcontentloaded' })
    await page.getByTestId('group-add').click()
    const dialog = page.getByTestId('group-editor')
    await dialog.getByTestId('group-name').fill(GROUP)
    await dialog.getByTestId('group-description').fill('E2E: 임시 채팅만')
    await dialog.getByTestId('group-temporary').check()
    await dialog.getByTestId('group-save').click()
    await toast(page, 'Saved')
    // Saved: the editor stays open for the members.
    await dialog.getByTestId('group-user-search').fill(ALICE)
    const found = dialog.getByTestId('group-found-user').filter({ hasText: ALICE })
    await found.getByTestId('group-pick-user').check()
    await dialog.getByTestId('group-add-members').click()
    await toast(page, '1 member added')
    await expect(dialog.getByTestId('group-member')).toContainText(ALICE)
    await shot(page, 'organize-08-group-editor')
    await expectAccessible(page, 'the group editor')
    await page.keyboard.press('Escape')
    await expect(page.getByTestId('group-row').filter({ hasText: GROUP })).toContainText('Yes')

    await test.step('a member’s new chat is temporary, the switch locked with the reason', async () => {
      await page.goto(at(''), { waitUntil: 'domcontentloaded' })
      await expect(page.getByTestId('temporary-toggle')).toBeChecked()
      await expect(page.getByTestId('temporary-toggle')).toBeDisabled()
      await expect(page.getByTestId('temporary-forced')).toContainText('administrator')
    })

    await test.step('the group deleted, chats are kept again', async () => {
      await page.goto(at('admin?tab=groups'), { waitUntil: 'domcontentloaded' })
      const groupRow = page.getByTestId('group-row').filter({ hasText: GROUP })
      await groupRow.getByTestId('group-delete').click()
      await groupRow.getByTestId('group-delete-confirm').click()
      await toast(page, 'Group deleted')
      await page.goto(at(''), { waitUntil: 'domcontentloaded' })
      await expect(page.getByTestId('temporary-toggle')).not.toBeChecked()
    })
  })

  test('import from ChatGPT: a ZIP of the export; a wrong file is refused in words', async () => {
    const dir = test.info().outputPath('chatgpt')
    await mkdir(dir, { recursive: true })
    const zipPath = join(dir, 'chatgpt-export.zip')
    await writeFile(
      zipPath,
      storedZip({
        'export/conversations.json': chatGptExport(),
        'export/chat.html': '<html></html>',
      }),
    )
    const wrongPath = join(dir, 'not-an-export.json')
    await writeFile(wrongPath, JSON.stringify({ hello: 'world' }))

    await page.goto(at('settings'), { waitUntil: 'domcontentloaded' })
    const panel = page.getByTestId('chatgpt-import')
    await test.step('a wrong file', async () => {
      await panel.getByTestId('chatgpt-file').setInputFiles(wrongPath)
      await panel.getByTestId('chatgpt-start').click()
      await expect(panel.getByTestId('chatgpt-error')).toContainText('not a ChatGPT export')
    })

    await panel.getByTestId('chatgpt-file').setInputFiles(zipPath)
    await panel.getByTestId('chatgpt-start').click()
    const summary = panel.getByTestId('chatgpt-summary')
    await expect(summary).toBeVisible({ timeout: 60_000 })
    await expect(summary.getByTestId('chatgpt-imported')).toContainText('1 conversation imported')
    await expect(summary.getByTestId('chatgpt-skipped')).toContainText('1 skipped')
    await expect(summary.getByTestId('chatgpt-attachments')).toContainText('1 image or file')
    await expect(summary.getByTestId('chatgpt-problems')).toContainText(`Loop ${suffix}`)
    await summary.scrollIntoViewIfNeeded()
    await shot(page, 'organize-09-import-summary')
    await expectAccessible(page, 'the import summary')

    await summary.getByRole('link', { name: IMPORTED }).click()
    await expect(page.getByTestId('thread')).toBeVisible()
    // The shown branch is current_node's: the edited question and its answer.
    await expect(page.getByTestId('message-content').first()).toContainText('사진 참고')
    await expect(page.getByTestId('message-content').last()).toContainText('우도')
  })

  test('Korean, on a phone: the temporary notice and the folders', async () => {
    await page.goto(at('settings'), { waitUntil: 'domcontentloaded' })
    await chooseLanguage(page, 'ko')
    try {
      await page.setViewportSize({ width: 390, height: 844 })
      await page.goto(at(''), { waitUntil: 'domcontentloaded' })
      await page.getByTestId('temporary-toggle').check()
      await expect(page.getByTestId('temporary-notice')).toContainText('기록에 저장되지 않')
      expect(await overflow(page), 'wider than the phone').toBeLessThanOrEqual(0)
      await shot(page, 'organize-10-temporary-notice-ko-phone')
      await page.getByTestId('temporary-toggle').uncheck()
      await page.getByTestId('open-sidebar').click()
      await expect(page.getByTestId('folder-new')).toBeVisible()
      await shot(page, 'organize-11-sidebar-ko-phone')
      await page.keyboard.press('Escape')
    } finally {
      await page.setViewportSize({ width: 1280, height: 800 })
      await page.goto(at('settings'), { waitUntil: 'domcontentloaded' })
      await chooseLanguage(page, 'en')
    }
  })

  test('no unexpected errors', () => {
    expect(problems).toEqual([])
  })
})
