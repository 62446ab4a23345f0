// Issue 20 in the browser: files in the conversation. Runs after chat.spec.ts on its server
// (the admin ALICE exists, with the fake LLM's connections). The admin marks the models as
// seeing images (Admin → Connections → Vision: Yes), then ALICE pastes a screenshot (a PNG
// drawn on a canvas, in a ClipboardEvent) into the message box and drops a one-page PDF on
// the chat; both upload at once (chips), the question goes with them, the thread shows the
// thumbnail and the PDF's chip — after a reload too. Screenshots: files-….
import { expect, test, type BrowserContext, type Page } from '@playwright/test'

import { ALICE, at, login, newContext, overflow, shot, toast, waitAnswer, watch } from './helpers'

test.describe.configure({ mode: 'serial' })

let context: BrowserContext
let page: Page
let problems: string[] = []

/**
 * A valid one-page PDF with `text` in Helvetica, as a string (ASCII only, so its byte
 * offsets are its character offsets): catalog, pages, page, content stream, font, xref.
 */
function tinyPdf(text: string): string {
  const content = `BT /F1 24 Tf 72 72 Td (${text}) Tj ET`
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 144] /Contents 4 0 R ' +
      '/Resources << /Font << /F1 5 0 R >> >> >>',
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>',
  ]
  let pdf = '%PDF-1.4\n'
  const offsets: number[] = []
  objects.forEach((body, index) => {
    offsets.push(pdf.length)
    pdf += `${index + 1} 0 obj\n${body}\nendobj\n`
  })
  const xref = pdf.length
  pdf += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`
  pdf += offsets.map((offset) => `${String(offset).padStart(10, '0')} 00000 n \n`).join('')
  pdf += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`
  return pdf
}

/** Pastes a PNG drawn on a canvas into the message box, as the clipboard's `image.png`. */
async function pasteScreenshot(p: Page): Promise<void> {
  await p.getByTestId('composer').evaluate(async (box) => {
    const canvas = document.createElement('canvas')
    canvas.width = 96
    canvas.height = 64
    const g = canvas.getContext('2d')
    if (!g) throw new Error('no 2d canvas')
    g.fillStyle = '#2563eb'
    g.fillRect(0, 0, 96, 64)
    g.fillStyle = '#fbbf24'
    g.beginPath()
    g.arc(48, 32, 20, 0, Math.PI * 2)
    g.fill()
    const blob = await new Promise<Blob>((resolve, reject) =>
      canvas.toBlob((b) => (b ? resolve(b) : reject(new Error('no PNG'))), 'image/png'),
    )
    const data = new DataTransfer()
    data.items.add(new File([blob], 'image.png', { type: 'image/png' }))
    const event = new ClipboardEvent('paste', {
      clipboardData: data,
      bubbles: true,
      cancelable: true,
    })
    box.dispatchEvent(event)
    if (!event.defaultPrevented) throw new Error('the paste was not taken as a file')
  })
}

/** Drags a file over the chat (the overlay shows), then drops it. */
async function dropFile(p: Page, name: string, type: string, body: string): Promise<void> {
  const target = p.getByTestId('chat-scroll')
  const data = await p.evaluateHandle(
    ([fileName, fileType, text]) => {
      const transfer = new DataTransfer()
      transfer.items.add(new File([text], fileName, { type: fileType }))
      return transfer
    },
    [name, type, body] as const,
  )
  await target.dispatchEvent('dragenter', { dataTransfer: data })
  await target.dispatchEvent('dragover', { dataTransfer: data })
  await expect(p.getByTestId('drop-overlay')).toBeVisible()
  await expect(p.getByTestId('drop-overlay')).toContainText('Drop files here')
  await shot(p, 'files-02-drop-overlay')
  await target.dispatchEvent('drop', { dataTransfer: data })
  await expect(p.getByTestId('drop-overlay')).toHaveCount(0)
}

/** The question's files in the thread: the image drawn (a blob URL), the PDF's chip. */
async function expectFilesInThread(p: Page): Promise<void> {
  const question = p.getByTestId('user-message').last()
  const image = question.getByTestId('message-image').locator('img')
  await expect(image).toHaveCount(1)
  await expect(image).toHaveAttribute('src', /^blob:/)
  await expect(image).toHaveAttribute('alt', /^screenshot-\d{4}-\d{2}-\d{2}-\d{6}\.png$/)
  await expect
    .poll(() => image.evaluate((img) => (img as HTMLImageElement).naturalWidth))
    .toBeGreaterThan(0)
  const pdf = question.getByTestId('message-document')
  await expect(pdf).toHaveCount(1)
  await expect(pdf).toContainText('hello.pdf')
  await expect(question.getByTestId('message-content')).toContainText('What is in these files?')
}

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

test.describe('files in the conversation', () => {
  test('the admin marks the models as seeing images', async () => {
    await page.goto(at('admin?tab=connections'), { waitUntil: 'domcontentloaded' })
    const connections = page.getByTestId('connection')
    await expect(connections.first()).toBeVisible()
    const count = await connections.count()
    for (let i = 0; i < count; i += 1) {
      const connection = connections.nth(i)
      const selects = connection.getByTestId('model-vision-select')
      const rows = await selects.count()
      if (!rows) continue
      for (let j = 0; j < rows; j += 1) await selects.nth(j).selectOption('yes')
      await connection.getByTestId('save-models').click()
      await toast(page, 'Saved')
      await expect(connection.getByTestId('save-models')).toHaveCount(0)
    }
    await shot(page, 'files-01-admin-vision', true)
    // The picker marks the chosen model with an eye.
    await page.goto(at(''), { waitUntil: 'domcontentloaded' })
    await expect(page.getByTestId('model-vision')).toBeVisible()
  })

  test('a pasted screenshot and a dropped PDF upload at once and go with the question', async () => {
    await page.getByTestId('new-chat').click()
    await expect(page.getByTestId('welcome')).toBeVisible()

    await pasteScreenshot(page)
    await dropFile(page, 'hello.pdf', 'application/pdf', tinyPdf('Hello PDF'))

    const chips = page.getByTestId('file-chip')
    await expect(chips).toHaveCount(2)
    await expect(chips.nth(0)).toHaveAttribute('data-kind', 'image')
    await expect(chips.nth(0)).toContainText(/screenshot-\d{4}-\d{2}-\d{2}-\d{6}\.png/)
    await expect(chips.nth(0).getByTestId('file-chip-thumb')).toBeVisible()
    await expect(chips.nth(1)).toHaveAttribute('data-kind', 'document')
    await expect(chips.nth(1)).toContainText('hello.pdf')
    await expect(chips.nth(0)).toHaveAttribute('data-status', 'done')
    await expect(chips.nth(1)).toHaveAttribute('data-status', 'done')
    await expect(page.getByTestId('file-chip-error')).toHaveCount(0)
    await expect(page.getByTestId('file-chip-warning')).toHaveCount(0) // the PDF's text was read
    await expect(page.getByTestId('vision-warning')).toHaveCount(0)
    await shot(page, 'files-03-chips')

    await page.getByTestId('composer').fill('What is in these files?')
    await expect(page.getByTestId('send')).toBeEnabled()
    await page.getByTestId('send').click()
    await expect(page).toHaveURL(/\/c\/[^/]+$/)
    await waitAnswer(page)
    await expect(page.getByTestId('file-chip')).toHaveCount(0)
    await expectFilesInThread(page)
    await shot(page, 'files-04-thread')
  })

  test('the files are still there after a reload; the image opens full size', async () => {
    await page.reload({ waitUntil: 'domcontentloaded' })
    await expect(page.getByTestId('assistant-message')).toHaveCount(1)
    await expectFilesInThread(page)
    await shot(page, 'files-05-after-reload')

    await page.getByTestId('user-message').last().getByTestId('message-image').click()
    const lightbox = page.getByTestId('image-lightbox')
    await expect(lightbox).toBeVisible()
    await expect(lightbox.locator('img')).toHaveAttribute('src', /^blob:/)
    await shot(page, 'files-06-lightbox')
    await page.keyboard.press('Escape')
    await expect(lightbox).toHaveCount(0)
  })

  test('on a phone the files wrap inside the screen', async () => {
    await page.setViewportSize({ width: 390, height: 844 })
    await page.reload({ waitUntil: 'domcontentloaded' })
    await expectFilesInThread(page)
    expect(await overflow(page), 'the page is wider than the phone').toBeLessThanOrEqual(0)
    await shot(page, 'files-07-phone')
    await page.setViewportSize({ width: 1280, height: 800 })
  })

  test('no unexpected errors', () => {
    expect(problems).toEqual([])
  })
})
