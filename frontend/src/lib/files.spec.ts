import { describe, expect, it } from 'vitest'

import {
  draggingFiles,
  isImageType,
  needsScreenshotName,
  pasteAttaches,
  pastedFiles,
  screenshotName,
} from './files'

describe('screenshotName', () => {
  const at = new Date(2026, 11, 4, 14, 30, 12)

  it('names a pasted image by the local time', () => {
    expect(screenshotName('image/png', at)).toBe('screenshot-2026-12-04-143012.png')
    expect(screenshotName('image/jpeg', at)).toBe('screenshot-2026-12-04-143012.jpg')
    expect(screenshotName('image/webp', new Date(2027, 0, 2, 3, 4, 5))).toBe(
      'screenshot-2027-01-02-030405.webp',
    )
  })

  it('numbers the second and later images of one paste', () => {
    expect(screenshotName('image/png', at, 1)).toBe('screenshot-2026-12-04-143012-2.png')
  })
})

describe('pasted files', () => {
  const at = new Date(2026, 11, 4, 14, 30, 12)

  it('renames the clipboard’s "image.png", keeps real names and documents', () => {
    const files = pastedFiles(
      [
        new File(['x'], 'image.png', { type: 'image/png' }),
        new File(['x'], 'holiday.jpg', { type: 'image/jpeg' }),
        new File(['x'], 'report.pdf', { type: 'application/pdf' }),
        new File(['x'], '', { type: 'image/png' }),
      ],
      at,
    )
    expect(files.map((f) => f.name)).toEqual([
      'screenshot-2026-12-04-143012.png',
      'holiday.jpg',
      'report.pdf',
      'screenshot-2026-12-04-143012-2.png',
    ])
    expect(files[0]?.type).toBe('image/png')
  })

  it('text copied with a picture of itself pastes as text; a screenshot or a document attaches', () => {
    const png = new File(['x'], 'image.png', { type: 'image/png' })
    const pdf = new File(['x'], 'a.pdf', { type: 'application/pdf' })
    expect(pasteAttaches([png], '')).toBe(true)
    expect(pasteAttaches([png], 'Quarterly figures')).toBe(false)
    expect(pasteAttaches([pdf], 'a.pdf')).toBe(true)
    expect(pasteAttaches([], '')).toBe(false)
  })

  it('a text paste has no files', () => {
    expect(pastedFiles(null)).toEqual([])
    expect(pastedFiles([])).toEqual([])
  })

  it('knows images and unnamed images', () => {
    expect(isImageType('IMAGE/PNG')).toBe(true)
    expect(isImageType('application/pdf')).toBe(false)
    expect(needsScreenshotName({ name: 'image.jpeg', type: 'image/jpeg' })).toBe(true)
    expect(needsScreenshotName({ name: 'image.pdf', type: 'application/pdf' })).toBe(false)
  })

  it('a drag of files, not of text', () => {
    expect(draggingFiles({ types: ['Files'] } as unknown as DataTransfer)).toBe(true)
    expect(draggingFiles({ types: ['text/plain'] } as unknown as DataTransfer)).toBe(false)
    expect(draggingFiles(null)).toBe(false)
  })
})
