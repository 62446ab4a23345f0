import { describe, expect, it } from 'vitest'

import { fileNameFor } from './download'

describe('fileNameFor', () => {
  it('keeps letters of any script and digits, joins the rest with dashes', () => {
    expect(fileNameFor('부산 여행 계획: 3일', 'md')).toBe('부산-여행-계획-3일.md')
    expect(fileNameFor('  Hello, world!  ', 'json')).toBe('Hello-world.json')
  })
  it('never answers an empty name', () => {
    expect(fileNameFor('***', 'json')).toBe('conversation.json')
  })
})
