/**
 * A search result's snippet split into plain and matching parts, so the sidebar can wrap the
 * keywords in <mark> as text nodes (the server's text never goes through v-html).
 */
export interface SnippetPart {
  text: string
  mark: boolean
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}

/**
 * `text` in parts, every case-insensitive occurrence of a keyword marked (the longest keyword
 * wins where two start at the same place). No keyword: one plain part.
 */
export function snippetParts(text: string, keywords: string[]): SnippetPart[] {
  const words = [...new Set(keywords.map((k) => k.trim()).filter(Boolean))].sort(
    (a, b) => b.length - a.length,
  )
  if (!text) return []
  if (!words.length) return [{ text, mark: false }]
  const pattern = new RegExp(words.map(escapeRegExp).join('|'), 'giu')
  const parts: SnippetPart[] = []
  let last = 0
  for (const match of text.matchAll(pattern)) {
    const start = match.index ?? 0
    if (start > last) parts.push({ text: text.slice(last, start), mark: false })
    parts.push({ text: match[0], mark: true })
    last = start + match[0].length
  }
  if (last < text.length) parts.push({ text: text.slice(last), mark: false })
  return parts
}
