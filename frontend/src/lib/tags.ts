/**
 * Tags of conversations (issue 21), the server's rules on the client: each tag trimmed, 1–50
 * characters, no comma, no control characters, not starting with `tag:`; duplicates merged
 * case-insensitively; at most 20 per conversation. And the search box's `tag:<name>` tokens.
 */
export const MAX_TAG_LENGTH = 50
export const MAX_TAGS = 20

export type TagProblem = 'empty' | 'too_long' | 'invalid_chars' | 'too_many'

const CONTROL = /[\u0000-\u001f\u007f-\u009f]/

/** One typed tag, trimmed, or why it cannot be one. */
export function checkTag(raw: string): { tag: string } | { problem: TagProblem } {
  const tag = raw.trim()
  if (!tag) return { problem: 'empty' }
  if ([...tag].length > MAX_TAG_LENGTH) return { problem: 'too_long' }
  if (tag.includes(',') || CONTROL.test(tag) || /^tag:/i.test(tag)) {
    return { problem: 'invalid_chars' }
  }
  return { tag }
}

/** Sorted as the server sorts them: case-insensitively. */
export function sortTags(tags: string[]): string[] {
  return [...tags].sort((a, b) => a.localeCompare(b, undefined, { sensitivity: 'base' }))
}

/**
 * `typed` (one or several, separated by commas) added to `tags`: the new set, the first
 * problem met and the parts refused (the good ones are added anyway).
 */
export function addTags(
  tags: string[],
  typed: string,
): { tags: string[]; problem: TagProblem | null; rejected: string[] } {
  const next = [...tags]
  let problem: TagProblem | null = null
  const rejected: string[] = []
  for (const part of typed.split(',')) {
    if (!part.trim()) continue
    const checked = checkTag(part)
    if ('problem' in checked) {
      problem ??= checked.problem
      rejected.push(part.trim())
      continue
    }
    if (next.some((t) => t.toLowerCase() === checked.tag.toLowerCase())) continue
    if (next.length >= MAX_TAGS) {
      problem ??= 'too_many'
      rejected.push(checked.tag)
      continue
    }
    next.push(checked.tag)
  }
  return { tags: next, problem, rejected }
}

const TAG_TOKEN = /^tag:(.+)$/i

/** The search box's text → its keywords (the rest) and its `tag:<name>` tokens. */
export function splitSearch(text: string): { keywords: string; tags: string[] } {
  const tags: string[] = []
  const words: string[] = []
  for (const token of text.split(/\s+/).filter(Boolean)) {
    const match = TAG_TOKEN.exec(token)
    if (match?.[1]) {
      if (!tags.some((t) => t.toLowerCase() === match[1]?.toLowerCase())) tags.push(match[1])
    } else {
      words.push(token)
    }
  }
  return { keywords: words.join(' '), tags }
}

/** The search text without its `tag:<name>` token(s) for `name`. */
export function withoutTagToken(text: string, name: string): string {
  return text
    .split(/\s+/)
    .filter((token) => token && TAG_TOKEN.exec(token)?.[1]?.toLowerCase() !== name.toLowerCase())
    .join(' ')
}
