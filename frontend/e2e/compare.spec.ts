// Issue 21 in the browser: several models side by side. Runs after chat.spec.ts on its
// server (the admin ALICE exists, with the fake LLM's connections). ALICE adds a second model
// with "Compare", asks one question, the two answers stream in two columns (stacked on a
// 390 px phone), each with its model's name; "Keep this answer" on the second one continues
// the thread from it, with the version switcher "2 / 2". Screenshots: compare-….
import { expect, test, type BrowserContext, type Page } from '@playwright/test'

import {
  ALICE,
  at,
  login,
  newContext,
  overflow,
  send,
  shot,
  STREAM_TIMEOUT,
  watch,
} from './helpers'

test.describe.configure({ mode: 'serial' })

let context: BrowserContext
let page: Page
let problems: string[] = []

test.beforeAll(async ({ browser }) => {
  context = await newContext(browser)
  page = await context.newPage()
  problems = watch(page)
  await login(page, ALICE)
  await expect(page.getByTestId('composer')).toBeVisible()
})

test.afterAll(async () => {
  await context?.close()
})

/** Waits until every side-by-side answer has ended. */
async function allEnded(p: Page): Promise<void> {
  const columns = p.locator('[data-compare-answer]')
  await expect(columns.first()).toBeVisible()
  await expect(p.locator('[data-compare-answer][data-status="streaming"]')).toHaveCount(0, {
    timeout: STREAM_TIMEOUT,
  })
}

test.describe('several models side by side', () => {
  test('two models answer one question in two columns', async () => {
    await page.goto(at(''), { waitUntil: 'domcontentloaded' })
    await page.getByTestId('compare-add').click()
    const second = page.getByTestId('compare-model-2')
    await expect(second).toBeVisible()
    // The main model is not offered again.
    const main = await page.getByTestId('model-picker').inputValue()
    await expect(second.locator(`option[value="${main}"]`)).toHaveCount(0)

    await send(page, 'Compare this [[markdown]] [[delay:40]]')
    const columns = page.locator('[data-compare-answer]')
    await expect(columns).toHaveCount(2)
    // Both stream at once.
    await expect(page.locator('[data-compare-answer][data-status="streaming"]')).toHaveCount(2)
    await shot(page, 'compare-01-streaming')
    await allEnded(page)
    await expect(columns.nth(0).locator('.markdown')).not.toBeEmpty()
    await expect(columns.nth(1).locator('.markdown')).not.toBeEmpty()
    const names = await columns.locator('.compare-model-name').allInnerTexts()
    expect(names).toHaveLength(2)
    expect(names[0]).not.toBe(names[1])
    // Side by side on a desktop: the second column starts right of the first.
    const [a, b] = [await columns.nth(0).boundingBox(), await columns.nth(1).boundingBox()]
    expect(b!.x).toBeGreaterThan(a!.x + a!.width - 1)
    await shot(page, 'compare-02-desktop', true)
  })

  test('stacked on a 390 px phone, nothing sticks out', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    const columns = page.locator('[data-compare-answer]')
    await expect(columns).toHaveCount(2)
    const [a, b] = [await columns.nth(0).boundingBox(), await columns.nth(1).boundingBox()]
    expect(b!.y).toBeGreaterThanOrEqual(a!.y + a!.height - 1)
    expect(await overflow(page)).toBe(0)
    await shot(page, 'compare-03-phone', true)
    await page.setViewportSize({ width: 1280, height: 800 })
  })

  test('keeping the second answer continues the thread from it', async () => {
    const columns = page.locator('[data-compare-answer]')
    const kept = await columns.nth(1).locator('.markdown').innerText()
    await columns.nth(1).getByTestId('compare-keep').click()
    await expect(page.getByTestId('compare-answers')).toHaveCount(0)
    const answer = page.getByTestId('assistant-message').last()
    await expect(answer.getByTestId('message-content')).toHaveText(kept.trim(), {
      useInnerText: true,
    })
    await expect(answer).toContainText('2 / 2')
    await shot(page, 'compare-04-kept')
    expect(problems).toEqual([])
  })
})
