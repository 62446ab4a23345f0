import { describe, expect, it } from 'vitest'

import { snippetParts } from './snippet'

describe('snippetParts', () => {
  it('marks every occurrence of a keyword, whatever its case', () => {
    expect(snippetParts('Zebras are striped; a zebra runs.', ['zebra'])).toEqual([
      { text: 'Zebra', mark: true },
      { text: 's are striped; a ', mark: false },
      { text: 'zebra', mark: true },
      { text: ' runs.', mark: false },
    ])
  })

  it('marks several keywords, Korean included, the longest first', () => {
    expect(snippetParts('배포는 금요일 배포 일정', ['배포', '배포는'])).toEqual([
      { text: '배포는', mark: true },
      { text: ' 금요일 ', mark: false },
      { text: '배포', mark: true },
      { text: ' 일정', mark: false },
    ])
  })

  it('treats keywords as text, not as patterns', () => {
    expect(snippetParts('costs $5 (or more)', ['$5', '(or'])).toEqual([
      { text: 'costs ', mark: false },
      { text: '$5', mark: true },
      { text: ' ', mark: false },
      { text: '(or', mark: true },
      { text: ' more)', mark: false },
    ])
  })

  it('without keywords or matches the text is one plain part', () => {
    expect(snippetParts('plain text', [])).toEqual([{ text: 'plain text', mark: false }])
    expect(snippetParts('plain text', ['zzz'])).toEqual([{ text: 'plain text', mark: false }])
    expect(snippetParts('', ['a'])).toEqual([])
  })
})
