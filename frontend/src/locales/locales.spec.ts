import { describe, expect, it } from 'vitest'

import { localeMessages } from '../i18n'
import baseEn from './en.json'
import baseKo from './ko.json'

const en = localeMessages(baseEn, 'en')
const ko = localeMessages(baseKo, 'ko')

/** Every leaf key, as `a.b.c`. */
function keys(messages: object, prefix = ''): string[] {
  return Object.entries(messages).flatMap(([key, value]) =>
    value !== null && typeof value === 'object'
      ? keys(value as object, `${prefix}${key}.`)
      : [`${prefix}${key}`],
  )
}

function values(messages: object): unknown[] {
  return Object.values(messages).flatMap((value) =>
    value !== null && typeof value === 'object' ? values(value as object) : [value],
  )
}

describe('locales', () => {
  it('ko and en have exactly the same keys', () => {
    expect(keys(ko).sort()).toEqual(keys(en).sort())
  })

  it('has no empty strings', () => {
    for (const value of [...values(ko), ...values(en)]) {
      expect(typeof value === 'string' && value.trim().length > 0).toBe(true)
    }
  })
})
