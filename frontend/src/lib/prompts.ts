import type { Prompt } from '@/api/types'

/**
 * The picker's filter when the message box starts with `/`: the text after the slash (one
 * line, spaces allowed — Korean titles have them), or null when the picker should be closed.
 */
export function slashQuery(text: string): string | null {
  const match = /^\/([^\n]{0,60})$/.exec(text)
  return match ? (match[1] ?? '') : null
}

/**
 * Prompts matching every word of the query in the title, category, tags or content
 * (case-insensitive); titles that start with the query come first, then title matches.
 */
export function filterPrompts(prompts: Prompt[], query: string, limit = 50): Prompt[] {
  const words = query.toLocaleLowerCase().split(/\s+/).filter(Boolean)
  const q = query.trim().toLocaleLowerCase()
  const scored: Array<[number, number, Prompt]> = []
  prompts.forEach((prompt, index) => {
    const title = prompt.title.toLocaleLowerCase()
    const haystack = [title, prompt.category ?? '', ...(prompt.tags ?? []), prompt.content]
      .join('\n')
      .toLocaleLowerCase()
    if (!words.every((word) => haystack.includes(word))) return
    const rank = !q ? 0 : title.startsWith(q) ? 0 : title.includes(q) ? 1 : 2
    scored.push([rank, index, prompt])
  })
  scored.sort((a, b) => a[0] - b[0] || a[1] - b[1])
  return scored.slice(0, limit).map(([, , prompt]) => prompt)
}

/** Hangul syllables or jamo: a Korean text. */
const HANGUL = /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7a3]/

/**
 * A prompt's language: its `language` (`ko`, `en`) when the server says one, else Korean when
 * its title or text has Hangul, English otherwise (a prompt "for every language" is still
 * written in one).
 */
export function promptLanguage(prompt: Prompt & { language?: string | null }): string {
  if (prompt.language) return prompt.language
  return HANGUL.test(`${prompt.title}\n${prompt.content}`) ? 'ko' : 'en'
}

/** The prompts in the UI language first, the rest after; each group keeps its order. */
export function byLanguage<T extends Prompt>(prompts: T[], locale: string): T[] {
  const mine = prompts.filter((prompt) => promptLanguage(prompt) === locale)
  return mine.length === prompts.length
    ? prompts
    : [...mine, ...prompts.filter((prompt) => promptLanguage(prompt) !== locale)]
}

/** "a, b ,, c" → ["a", "b", "c"] (tags typed in a text field). */
export function parseTags(text: string): string[] {
  return [
    ...new Set(
      text
        .split(/[,，]/)
        .map((tag) => tag.trim())
        .filter(Boolean),
    ),
  ]
}
