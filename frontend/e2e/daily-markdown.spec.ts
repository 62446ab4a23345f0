// Issue 18, item 6: Markdown as written. A new user asks a question holding a table with three
// column alignments, an inline and a display formula, prices that are not math and a mermaid
// flowchart; `[[echo]]` makes the fake LLM answer with that very text. The answer must show the
// table aligned, the formulas through KaTeX, the diagram through mermaid (light and dark, with
// its source one click away) — and KaTeX and mermaid must not be fetched for an answer that
// has neither. Run the static server with `--csp` to test under the real server's policy.
import { expect, test, type Page } from '@playwright/test'

import {
  lastAnswer,
  newContext,
  overflow,
  register,
  send,
  shot,
  waitAnswer,
  watch,
  baseUrl,
} from './helpers'

test.describe.configure({ mode: 'serial' })

const USER = `md_${process.env.E2E_SUFFIX}`
/** The lazy chunks of KaTeX (math-*, katex-*, its fonts) and mermaid (mermaid-* and the rest). */
const MATH_ASSET = /\/assets\/(?:math|katex)-[^/]*\.(?:js|css)$|\/assets\/KaTeX_/i
const MERMAID_ASSET = /\/assets\/mermaid-[^/]*\.js$/
const FLOWCHART = [
  'flowchart LR',
  '  Q[Question] --> M{Has math?}',
  '  M -->|yes| K[KaTeX]',
  '  M -->|no| T[Plain text]',
].join('\n')
const QUESTION = [
  'Markdown as written',
  '',
  '| Center | Right | Left |',
  '|:------:|------:|:-----|',
  '| a | 1 | x |',
  '| bbbbbbbbbbbb | 22222222 | yyyyyyyyyyyy |',
  '',
  'Euler: $e^{i\\pi} + 1 = 0$, while a coffee costs $5 and a cake $10.',
  '',
  '$$',
  '\\int_0^1 x^2\\,dx = \\frac{1}{3}',
  '$$',
  '',
  '```mermaid',
  FLOWCHART,
  '```',
  '',
  '[[echo]] [[delay:25]]',
].join('\n')

let page: Page
let problems: string[] = []
const requested: string[] = []

test.beforeAll(async ({ browser }) => {
  const context = await newContext(browser)
  await context.grantPermissions(['clipboard-read', 'clipboard-write'], {
    origin: new URL(baseUrl).origin,
  })
  page = await context.newPage()
  problems = watch(page)
  page.on('request', (request) => requested.push(request.url()))
  // The server's CSP (or the static server's --csp) must not block anything the answer needs.
  page.on('console', (message) => {
    if (message.type() === 'error' && /Content Security Policy/i.test(message.text())) {
      problems.push(`CSP: ${message.text()}`)
    }
  })
})

test.afterAll(async () => {
  await page?.context().close()
})

const answer = () => lastAnswer(page).getByTestId('message-content')
const lazy = (pattern: RegExp) => requested.filter((url) => pattern.test(url))

test.describe('Markdown as written', () => {
  test('an answer without math or diagrams loads neither KaTeX nor mermaid', async () => {
    await register(page, USER)
    await expect(page.getByTestId('sidebar')).toBeVisible()
    await send(page, 'Show me some Markdown [[markdown]]')
    await waitAnswer(page)
    await expect(answer().locator('.code-block')).toBeVisible()
    expect(lazy(MATH_ASSET), 'KaTeX fetched for no math').toEqual([])
    expect(lazy(MERMAID_ASSET), 'mermaid fetched for no diagram').toEqual([])
  })

  test('the diagram is drawn once the answer is complete, not while it streams', async () => {
    await page.getByTestId('new-chat').click()
    await send(page, QUESTION)
    await expect(lastAnswer(page)).toHaveAttribute('data-status', 'streaming')
    // Streaming: the flowchart shows as code (it may not even have arrived yet).
    await expect(answer()).toContainText('Markdown as written')
    expect(await answer().locator('.diagram svg').count()).toBe(0)
    expect(lazy(MERMAID_ASSET), 'mermaid fetched while streaming').toEqual([])
    await waitAnswer(page)
    await expect(answer().locator('.diagram svg')).toBeVisible()
    expect(lazy(MERMAID_ASSET).length).toBeGreaterThan(0)
  })

  test('table columns keep their alignment', async () => {
    const table = answer().locator('table')
    await expect(table).toBeVisible()
    const aligns = (selector: string) =>
      table
        .locator(selector)
        .evaluateAll((cells) => cells.map((cell) => getComputedStyle(cell).textAlign))
    expect(await aligns('th')).toEqual(['center', 'right', 'left'])
    expect(await aligns('tbody tr:first-child td')).toEqual(['center', 'right', 'left'])
    await table.scrollIntoViewIfNeeded()
    await shot(page, 'md-01-aligned-table')
    await table.screenshot({
      path: `${process.env.SCREENSHOT_DIR || 'e2e/screenshots'}/md-01b-table.png`,
    })
  })

  test('formulas are typeset by KaTeX; prices stay text', async () => {
    const inline = answer().locator('.math-inline .katex')
    await expect(inline).toHaveCount(1)
    await expect(answer().locator('.math-display .katex-display')).toHaveCount(1)
    await expect(answer()).toContainText('a coffee costs $5 and a cake $10.')
    // The TeX stays available to screen readers (MathML) and KaTeX's fonts loaded.
    await expect(inline.locator('annotation')).toHaveText('e^{i\\pi} + 1 = 0')
    expect(lazy(/\/assets\/KaTeX_[^/]*\.woff2$/).length).toBeGreaterThan(0)
    expect(await page.evaluate(() => document.fonts.check('16px KaTeX_Main'))).toBe(true)
    await answer().locator('.math-display').scrollIntoViewIfNeeded()
    await shot(page, 'md-02-katex-light')
  })

  test('the diagram has its source one click away, and copies it', async () => {
    const block = answer().locator('.diagram-block')
    const toggle = block.locator('[data-diagram-toggle]')
    await block.scrollIntoViewIfNeeded()
    await shot(page, 'md-03-mermaid-light')
    await expect(block.locator('pre')).toBeHidden()
    await expect(toggle).toHaveText('Code')
    await toggle.focus()
    await page.keyboard.press('Enter')
    await expect(block.locator('pre')).toBeVisible()
    await expect(block.locator('.diagram svg')).toBeHidden()
    await expect(toggle).toHaveText('Diagram')
    await expect(toggle, 'the focus stays on the toggle').toBeFocused()
    await page.keyboard.press('Enter')
    await expect(block.locator('.diagram svg')).toBeVisible()
    await block.locator('[data-copy]').click()
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(FLOWCHART)
  })

  test('the diagram follows the dark theme', async () => {
    const svg = answer().locator('.diagram svg')
    const fill = () =>
      svg.evaluate((el) => {
        const node = el.querySelector('.node rect, .node polygon, .node path')
        return node ? getComputedStyle(node).fill : ''
      })
    const light = await fill()
    await page.emulateMedia({ colorScheme: 'dark' })
    await expect.poll(fill).not.toBe(light)
    await expect(svg).toBeVisible()
    await answer().locator('.diagram-block').scrollIntoViewIfNeeded()
    await shot(page, 'md-04-mermaid-dark')
    await answer().locator('.math-display').scrollIntoViewIfNeeded()
    await shot(page, 'md-05-katex-dark')
  })

  test('on a phone, wide tables, formulas and diagrams scroll inside the answer', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    await expect(answer().locator('.diagram svg')).toBeVisible()
    expect(await overflow(page)).toBe(0)
    await answer().locator('table').scrollIntoViewIfNeeded()
    await shot(page, 'md-06-phone-dark')
    await page.setViewportSize({ width: 1280, height: 800 })
    await page.emulateMedia({ colorScheme: 'light' })
  })

  test('an invalid diagram shows its code and a short error', async () => {
    await page.getByTestId('new-chat').click()
    await send(page, '```mermaid\nflowchart LR\n  A --> --> B\n```\n\n[[echo]]')
    await waitAnswer(page)
    const block = answer().locator('.diagram-block')
    await expect(block.locator('.diagram-error')).toContainText(/could not be drawn.*Parse error/)
    await expect(block.locator('pre')).toBeVisible()
    await expect(block.locator('.diagram')).toHaveCount(0)
    await shot(page, 'md-07-mermaid-error')
  })

  test('no script errors, failed requests or CSP violations', async () => {
    expect(problems, problems.join('; ')).toEqual([])
  })
})
