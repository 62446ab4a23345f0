/**
 * The chat's keyboard shortcuts (as ChatGPT has them): Escape stops the answer, Ctrl/⌘+Shift+O
 * starts a new chat, Shift+Escape puts the focus in the message box, Ctrl/⌘+/ (or `?` outside
 * a text field) lists them. `/` stays the prompt library's.
 */

export type ChatShortcut = 'stop' | 'newChat' | 'focusComposer' | 'help'

type Keys = Pick<
  KeyboardEvent,
  'key' | 'code' | 'shiftKey' | 'ctrlKey' | 'metaKey' | 'altKey' | 'isComposing'
>

/** What `event` asks for; `editable`: the focus is in a text field (where `?` types). */
export function shortcutOf(event: Keys, editable: boolean): ChatShortcut | null {
  if (event.isComposing) return null
  const mod = event.ctrlKey || event.metaKey
  if (event.key === 'Escape' && !mod && !event.altKey) {
    return event.shiftKey ? 'focusComposer' : 'stop'
  }
  // The code, not the key: with a Korean layout active, O types "ㅐ".
  if (mod && event.shiftKey && !event.altKey && (event.code === 'KeyO' || /^o$/i.test(event.key))) {
    return 'newChat'
  }
  if (mod && !event.altKey && (event.key === '/' || event.code === 'Slash')) return 'help'
  if (event.key === '?' && !mod && !event.altKey && !editable) return 'help'
  return null
}

/** Whether `element` takes typed text (a `?` there is a question mark, not a shortcut). */
export function isEditable(element: Element | null): boolean {
  if (!element) return false
  if (element instanceof HTMLTextAreaElement || element instanceof HTMLSelectElement) return true
  if (element instanceof HTMLInputElement) {
    return !['checkbox', 'radio', 'button', 'submit', 'reset', 'range', 'color', 'file'].includes(
      element.type,
    )
  }
  return element instanceof HTMLElement && element.isContentEditable
}

/** Apple keyboards say ⌘ where others say Ctrl. */
export function isApple(platform: string = navigator.platform || navigator.userAgent): boolean {
  return /mac|iphone|ipad|ipod/i.test(platform)
}

/** The help dialog's rows: what, and its keys (`Mod` is Ctrl or ⌘). */
export const SHORTCUTS: ReadonlyArray<{ id: string; keys: string[] }> = [
  { id: 'send', keys: ['Enter'] },
  { id: 'newline', keys: ['Shift', 'Enter'] },
  { id: 'prompts', keys: ['/'] },
  { id: 'stop', keys: ['Esc'] },
  { id: 'newChat', keys: ['Mod', 'Shift', 'O'] },
  { id: 'focusComposer', keys: ['Shift', 'Esc'] },
  { id: 'help', keys: ['Mod', '/'] },
]
