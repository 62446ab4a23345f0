/** Small rules about files in conversations (issue 20), kept apart from the DOM to be tested. */

/** At most this many files go with one message (the server refuses more). */
export const MAX_FILES = 20

/** The image types the server takes (anything else is sent as a document, or refused). */
export const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/webp', 'image/gif'] as const

export function isImageType(mime: string | null | undefined): boolean {
  return !!mime && (IMAGE_TYPES as readonly string[]).includes(mime.toLowerCase())
}

const EXTENSIONS: Record<string, string> = {
  'image/png': 'png',
  'image/jpeg': 'jpg',
  'image/webp': 'webp',
  'image/gif': 'gif',
}

const pad = (n: number, width = 2) => String(n).padStart(width, '0')

/**
 * The name of an image pasted from the clipboard (the browser calls them all `image.png`):
 * `screenshot-2026-12-04-143012.png`, in local time; the second and later images of one paste
 * get `-2`, `-3`….
 */
export function screenshotName(mime: string, at: Date = new Date(), index = 0): string {
  const stamp =
    `${at.getFullYear()}-${pad(at.getMonth() + 1)}-${pad(at.getDate())}-` +
    `${pad(at.getHours())}${pad(at.getMinutes())}${pad(at.getSeconds())}`
  const extension = EXTENSIONS[mime.toLowerCase()] ?? 'png'
  return `screenshot-${stamp}${index > 0 ? `-${index + 1}` : ''}.${extension}`
}

/** A pasted image without a name of its own (`image.png`, or none): it gets a screenshot name. */
export function needsScreenshotName(file: { name: string; type: string }): boolean {
  return isImageType(file.type) && (!file.name || /^image\.(png|jpe?g|gif|webp)$/i.test(file.name))
}

/**
 * The files of a paste, images without a name of their own renamed (see `screenshotName`).
 * Answers [] when the clipboard holds no file (a plain text paste goes on as usual).
 */
export function pastedFiles(files: ArrayLike<File> | null | undefined, at = new Date()): File[] {
  const list = files ? Array.from(files) : []
  let images = 0
  return list.map((file) =>
    needsScreenshotName(file)
      ? new File([file], screenshotName(file.type, at, images++), {
          type: file.type,
          lastModified: file.lastModified,
        })
      : file,
  )
}

/**
 * Whether a paste attaches its files. Text copied from an office program often comes with a
 * picture of itself: when the clipboard has text and only images, the text is what was meant.
 */
export function pasteAttaches(files: ArrayLike<File>, text: string): boolean {
  const list = Array.from(files)
  if (!list.length) return false
  return !text.trim() || list.some((file) => !isImageType(file.type))
}

/** A drag that carries files (not a text selection or a link being dragged). */
export function draggingFiles(transfer: DataTransfer | null | undefined): boolean {
  return !!transfer && Array.from(transfer.types ?? []).includes('Files')
}
