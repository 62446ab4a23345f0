import { describe, expect, it } from 'vitest'

import { formatBytes, MAX_UPLOAD_BYTES, titleFromText, uploadProblem } from './collector'

describe('uploadProblem', () => {
  it('accepts text files and source code up to 10 MiB', () => {
    expect(uploadProblem({ name: '회의록.md', size: 1200 })).toBeNull()
    expect(uploadProblem({ name: 'data.CSV', size: MAX_UPLOAD_BYTES })).toBeNull()
    expect(uploadProblem({ name: 'main.rs', size: 10 })).toBeNull()
  })
  it('refuses other types, bigger files and empty ones, saying which', () => {
    expect(uploadProblem({ name: 'setup.exe', size: 10 })).toEqual({
      kind: 'unsupported_type',
      extension: 'exe',
    })
    expect(uploadProblem({ name: 'README', size: 10 })).toEqual({
      kind: 'unsupported_type',
      extension: 'README',
    })
    expect(uploadProblem({ name: 'big.txt', size: 20 * 1024 * 1024 })).toEqual({
      kind: 'too_large',
      size: 20 * 1024 * 1024,
    })
    expect(uploadProblem({ name: 'empty.txt', size: 0 })).toEqual({ kind: 'empty' })
  })
})

describe('formatBytes', () => {
  it('speaks in B, KiB, MiB', () => {
    expect(formatBytes(500)).toBe('500 B')
    expect(formatBytes(2048)).toBe('2 KiB')
    expect(formatBytes(20 * 1024 * 1024)).toBe('20 MiB')
  })
})

describe('titleFromText', () => {
  it('takes the first non-empty line without Markdown marks', () => {
    expect(titleFromText('\n## 부산 여행 계획\n첫째 날…')).toBe('부산 여행 계획')
    expect(titleFromText('x'.repeat(100), 10)).toBe('xxxxxxxxx…')
  })
})
