/**
 * Enter sends, Shift+Enter breaks the line — but never while an IME is composing. Korean
 * (and Japanese, Chinese) input methods send Enter to commit a syllable; acting on that Enter
 * would send the half-composed text and leave the last syllable behind in the box. Chrome
 * marks such events `isComposing`; Safari finishes composition first but reports keyCode 229.
 */
export function isSendKey(
  event: Pick<
    KeyboardEvent,
    'key' | 'shiftKey' | 'isComposing' | 'keyCode' | 'altKey' | 'ctrlKey' | 'metaKey'
  >,
): boolean {
  if (event.key !== 'Enter') return false
  if (event.isComposing || event.keyCode === 229) return false
  if (event.shiftKey || event.altKey) return false
  return true
}

/** Search box text → the server's comma-separated keywords (commas or spaces separate). */
export function searchKeywords(text: string): string {
  return text
    .split(/[,\s]+/)
    .map((word) => word.trim())
    .filter(Boolean)
    .join(',')
}
