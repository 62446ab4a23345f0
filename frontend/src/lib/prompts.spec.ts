import { describe, expect, it } from 'vitest'

import type { Prompt } from '@/api/types'

import { byLanguage, filterPrompts, parseTags, promptLanguage, slashQuery } from './prompts'

const p = (id: string, title: string, over: Partial<Prompt> = {}): Prompt => ({
  id,
  title,
  content: `${title} content`,
  category: null,
  tags: [],
  ...over,
})

describe('slashQuery', () => {
  it('opens on a leading slash, with the text after it as the filter', () => {
    expect(slashQuery('/')).toBe('')
    expect(slashQuery('/번역')).toBe('번역')
    expect(slashQuery('/code review')).toBe('code review')
  })
  it('stays closed otherwise', () => {
    expect(slashQuery('')).toBeNull()
    expect(slashQuery('hello /x')).toBeNull()
    expect(slashQuery('/a\nb')).toBeNull()
  })
})

describe('filterPrompts', () => {
  const prompts = [
    p('1', 'Summarize a text', { category: 'writing', tags: ['summary'] }),
    p('2', '영어로 번역', { category: '번역', tags: ['translate'] }),
    p('3', 'Review my code', { content: 'Find bugs and summarize them' }),
    p('4', 'Code explainer'),
  ]
  it('everything for an empty query, in order', () => {
    expect(filterPrompts(prompts, '').map((x) => x.id)).toEqual(['1', '2', '3', '4'])
  })
  it('matches title, category, tags and content, title prefix first', () => {
    expect(filterPrompts(prompts, 'code').map((x) => x.id)).toEqual(['4', '3'])
    expect(filterPrompts(prompts, 'SUMMAR').map((x) => x.id)).toEqual(['1', '3'])
    expect(filterPrompts(prompts, 'translate').map((x) => x.id)).toEqual(['2'])
    expect(filterPrompts(prompts, '번역').map((x) => x.id)).toEqual(['2'])
  })
  it('needs every word', () => {
    expect(filterPrompts(prompts, 'review bugs').map((x) => x.id)).toEqual(['3'])
    expect(filterPrompts(prompts, 'review zebra')).toEqual([])
  })
})

describe('parseTags', () => {
  it('splits, trims, drops empties and duplicates', () => {
    expect(parseTags(' a, b ,, a，c ')).toEqual(['a', 'b', 'c'])
    expect(parseTags('')).toEqual([])
  })
})

describe('prompts in the UI language first', () => {
  const prompts = [
    p('en1', 'Summarize'),
    p('ko1', '요약하기'),
    p('en2', 'Explain code', { language: 'en' } as Partial<Prompt>),
    p('ko2', 'Translate', { content: '다음을 번역해 줘:' }),
    p('ko3', 'Review', { language: 'ko' } as Partial<Prompt>),
  ]

  it('a prompt’s language: the server’s field, else Hangul in its title or text', () => {
    expect(prompts.map(promptLanguage)).toEqual(['en', 'ko', 'en', 'ko', 'ko'])
  })

  it('Korean UI: the Korean prompts first, each group in its order', () => {
    expect(byLanguage(prompts, 'ko').map((x) => x.id)).toEqual(['ko1', 'ko2', 'ko3', 'en1', 'en2'])
  })

  it('English UI: the English prompts first', () => {
    expect(byLanguage(prompts, 'en').map((x) => x.id)).toEqual(['en1', 'en2', 'ko1', 'ko2', 'ko3'])
  })

  it('the slash filter keeps the language order within a rank', () => {
    const list = byLanguage([p('a', 'Code review'), p('b', 'Code 리뷰')], 'ko')
    expect(filterPrompts(list, 'code').map((x) => x.id)).toEqual(['b', 'a'])
  })
})
