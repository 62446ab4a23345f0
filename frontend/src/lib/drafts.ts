/**
 * Unsent text of the message box, per conversation (and one for a new chat), kept in
 * sessionStorage: it survives a reload of the tab, not the end of the session. Not a secret
 * (it is what the user typed), and removed as soon as it is sent.
 */

/** The draft of a chat that has no conversation yet. */
export const NEW_CHAT = 'new'

const PREFIX = 'daehwa.draft.'

function storage(): Storage | null {
  try {
    return typeof sessionStorage === 'undefined' ? null : sessionStorage
  } catch {
    return null // storage disabled (strict privacy settings)
  }
}

/** The key of a conversation's draft (`null`: a new chat). */
export function draftKey(conversationId: string | null | undefined): string {
  return conversationId || NEW_CHAT
}

export function loadDraft(key: string): string {
  try {
    return storage()?.getItem(PREFIX + key) ?? ''
  } catch {
    return ''
  }
}

/** Keeps `text` as the draft of `key`; blank text removes it. */
export function saveDraft(key: string, text: string): void {
  const store = storage()
  if (!store) return
  try {
    if (text.trim()) store.setItem(PREFIX + key, text)
    else store.removeItem(PREFIX + key)
  } catch {
    // Full or disabled: the draft lasts as long as the page.
  }
}

export function clearDraft(key: string): void {
  saveDraft(key, '')
}

/**
 * `returned` (a question given back) joined with what the box holds now: nothing is lost,
 * and the same text is not doubled.
 */
export function mergeDraft(current: string, returned: string): string {
  const now = current.trim()
  const back = returned.trim()
  if (!now) return returned
  if (!back || now === back || now.includes(back)) return current
  return `${returned}\n\n${current}`
}
