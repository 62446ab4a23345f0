import { describe, expect, it } from 'vitest'
import { createI18n } from 'vue-i18n'

import { ApiError } from '@/api/http'
import { localeMessages } from '@/i18n'
import baseEn from '@/locales/en.json'
import baseKo from '@/locales/ko.json'

import {
  CLIENT_ERROR_CODES,
  FIELD_CODES,
  FIELDS_WITH_OWN_TEXT,
  SERVER_ERROR_CODES,
  errorMessage,
  fieldCodeOf,
  fieldText,
  guessFieldCode,
  providerProblem,
  storedErrorCode,
  storedErrorText,
  type Translator,
} from './errors'

const messages = { en: localeMessages(baseEn, 'en'), ko: localeMessages(baseKo, 'ko') }

/** A Translator over the app's real messages in `locale` (no fallback: a gap shows). */
function translator(locale: 'en' | 'ko'): Translator {
  const i18n = createI18n({ legacy: false, locale, fallbackLocale: false, messages })
  const { t, te } = i18n.global
  return {
    t: (key, params) => t(key, params ?? {}),
    te: (key) => te(key, locale),
    locale,
  }
}
const en = translator('en')
const ko = translator('ko')
const HANGUL = /[\uac00-\ud7a3]/

describe('every code the server sends has a sentence in both languages', () => {
  it.each([...SERVER_ERROR_CODES, ...CLIENT_ERROR_CODES])('%s', (code) => {
    const error = new ApiError(400, code, 'the server said this in English')
    const english = errorMessage(error, en)
    const korean = errorMessage(error, ko)
    expect(en.te(`errors.${code}`)).toBe(true)
    expect(ko.te(`errors.${code}`)).toBe(true)
    expect(english).not.toContain('the server said this')
    expect(korean).not.toContain('the server said this')
    expect(korean).toMatch(HANGUL)
    expect(english).not.toMatch(HANGUL)
  })

  it('every field code has a generic sentence, and every own sentence exists', () => {
    for (const tr of [en, ko]) {
      for (const code of FIELD_CODES) expect(tr.te(`errorFields.any.${code}`), code).toBe(true)
      for (const [field, codes] of Object.entries(FIELDS_WITH_OWN_TEXT)) {
        for (const code of codes) {
          expect(tr.te(`errorFields.${field}.${code}`), `${field}.${code}`).toBe(true)
        }
      }
    }
  })

  it('every (field, field code) pair reads in Korean, with the numbers of the message', () => {
    const fields = ['username', 'password', 'new_password', 'display_name', 'title', 'plan', 'x']
    for (const field of fields) {
      for (const code of FIELD_CODES) {
        const error = new ApiError(422, 'validation_failed', 'invalid', {}, null, {
          fieldCodes: { [field]: code },
        })
        const korean = fieldText(error, field, ko)
        expect(korean, `${field}.${code}`).toMatch(HANGUL)
        expect(korean, `${field}.${code}`).not.toMatch(/[{}]/)
        expect(fieldText(error, field, en), `${field}.${code}`).not.toMatch(/[{}]|undefined/)
      }
    }
  })

  it('an unknown code falls back to the server’s English, then to a generic text', () => {
    expect(errorMessage(new ApiError(418, 'teapot', 'I am a teapot'), ko)).toBe('I am a teapot')
    expect(errorMessage(new ApiError(500, 'teapot', ''), ko)).toBe('서버에서 문제가 생겼습니다.')
    expect(errorMessage(new ApiError(0, 'teapot', ''), en)).toMatch(/cannot be reached/)
  })
})

describe('field messages', () => {
  // What the server answered for `{"username": "bad name!", "password": "short"}`.
  const older = new ApiError(422, 'validation_failed', 'some fields are invalid', {
    username: 'may only use letters a-z, digits and _ . -',
    password: 'must be at least 8 characters long',
    display_name: 'must be 1 to 64 characters long',
  })
  const newer = new ApiError(
    422,
    'validation_failed',
    'some fields are invalid',
    older.fields,
    null,
    {
      fieldCodes: { username: 'invalid_chars', password: 'too_short', display_name: 'length' },
    },
  )

  it('field_codes and, from an older server, the English message give the same code', () => {
    for (const field of ['username', 'password', 'display_name']) {
      expect(fieldCodeOf(older, field)).toBe(fieldCodeOf(newer, field))
    }
    expect(fieldCodeOf(older, 'title')).toBeNull()
  })

  it('says each field in Korean or English, with the numbers the server gave', () => {
    for (const error of [older, newer]) {
      expect(fieldText(error, 'username', ko)).toBe(
        '아이디에는 영문자, 숫자, _ . - 만 쓸 수 있습니다.',
      )
      expect(fieldText(error, 'password', ko)).toBe('비밀번호는 8자 이상이어야 합니다.')
      expect(fieldText(error, 'display_name', ko)).toBe('표시 이름은 1–64자여야 합니다.')
      expect(fieldText(error, 'password', en)).toBe('The password needs at least 8 characters.')
      expect(fieldText(error, 'title', en)).toBeUndefined()
    }
  })

  it('a generic sentence takes the numbers, or says it without them', () => {
    const withNumbers = new ApiError(422, 'validation_failed', 'x', {
      title: 'must be 1 to 200 characters',
      daily_message_limit: 'must be between 0 and 1000000, or null for no limit',
      tags: 'at most 20 tags of at most 40 characters',
    })
    expect(fieldText(withNumbers, 'title', ko)).toBe('1–200자로 입력해 주세요.')
    expect(fieldText(withNumbers, 'daily_message_limit', en)).toBe(
      'Enter a number from 0 to 1000000.',
    )
    expect(fieldText(withNumbers, 'tags', en)).toBe('Use at most 40 characters.')
    const codesOnly = new ApiError(422, 'validation_failed', 'x', {}, null, {
      fieldCodes: { title: 'too_long' },
    })
    expect(fieldText(codesOnly, 'title', ko)).toBe('너무 깁니다.')
  })

  it('the summary of a 422 names each field in the user’s language', () => {
    const error = new ApiError(422, 'validation_failed', 'x', {
      base_url: 'must be an http:// or https:// URL',
      name: 'must be 1 to 64 characters long',
    })
    expect(errorMessage(error, ko)).toBe(
      '입력한 내용 중 고칠 부분이 있습니다. http:// 또는 https:// 로 시작하는 주소를 입력해 주세요. 이름: 1–64자로 입력해 주세요.',
    )
  })

  it('mirrors the server’s rule for every message it writes', () => {
    const cases: Array<[string, string]> = [
      ['is required', 'required'],
      ['must not be empty', 'empty'],
      ['the file is empty', 'empty'],
      ['must contain at least one letter and one digit', 'weak'],
      ['may not contain control characters', 'invalid_chars'],
      ['unknown model gpt-9', 'unknown'],
      ['must be 1 to 64 characters long', 'length'],
      ['must be at least 3 characters long', 'too_short'],
      ['must be at most 200 characters', 'too_long'],
      ['at most 500 models', 'too_many'],
      ['must be light, dark or system', 'invalid'],
      ['this username is already taken', 'taken'],
    ]
    for (const [message, code] of cases) expect(guessFieldCode(message), message).toBe(code)
  })
})

describe('waits in words', () => {
  const now = Date.parse('2024-01-01T12:00:00Z')

  it('a 429 with retry_after says when, in minutes, not seconds', () => {
    const error = new ApiError(
      429,
      'rate_limited',
      'too many attempts; try again in 897 seconds',
      {},
      897,
    )
    expect(errorMessage(error, ko, now)).toBe('시도가 너무 많습니다. 15분 후에 다시 시도하세요.')
    expect(errorMessage(error, en, now)).toBe('Too many attempts. Try again in 15 minutes.')
  })

  it('resets_at counts too; a retryable code without a time says "in a moment"', () => {
    const daily = new ApiError(429, 'daily_limit_reached', 'x', {}, null, {
      limit: 20,
      resetsAt: '2024-01-01T14:30:00Z',
    })
    expect(errorMessage(daily, ko, now)).toBe(
      '요금제의 하루 메시지 20개를 모두 사용했습니다. 2시간 30분 후에 다시 시도하세요.',
    )
    expect(errorMessage(new ApiError(503, 'overloaded', 'x'), en, now)).toBe(
      'The server is busy. Try again in a moment.',
    )
    expect(errorMessage(new ApiError(404, 'not_found', 'x'), en, now)).toBe(
      'This does not exist, or it was deleted.',
    )
  })
})

describe('provider failures of a connection test', () => {
  it('says what to check, in the user’s language, and keeps the provider’s detail apart', () => {
    const refused = providerProblem(
      'could not reach the LLM provider: Connection Failed: Connect error: Connection refused (os error 111)',
      ko,
    )
    expect(refused.text).toMatch(/연결할 수 없습니다/)
    expect(refused.detail).toMatch(/Connection refused/)
    expect(providerProblem('the LLM provider answered 401: invalid key', en)).toEqual({
      text: 'The provider refused the API key (HTTP 401). Check the key.',
      detail: 'invalid key',
    })
    expect(providerProblem('the LLM provider answered 404: no route', ko).text).toMatch(/\/v1/)
    expect(providerProblem('the LLM provider did not answer in time', ko).detail).toBe('')
    expect(
      providerProblem(
        "could not list the provider's models: the LLM provider did not answer in time",
        en,
      ).text,
    ).toBe('The provider did not answer in time.')
    expect(providerProblem('something new', en)).toEqual({
      text: 'The provider could not be asked for its models.',
      detail: 'something new',
    })
  })
})

describe('an answer’s stored error', () => {
  it('the engine’s English sentences map to their codes', () => {
    expect(storedErrorCode("could not reach the model's provider")).toBe('upstream_unreachable')
    expect(storedErrorCode("the model's provider answered with an error (HTTP 500)")).toBe(
      'upstream_error',
    )
    expect(
      storedErrorCode('the answer was cut after 600 seconds, the longest an answer may take'),
    ).toBe('generation_timeout')
    expect(storedErrorText("could not reach the model's provider", ko)).toBe(
      '모델 제공자에 연결할 수 없습니다.',
    )
    expect(storedErrorText('a brand new failure', ko)).toBe('a brand new failure')
  })
})
