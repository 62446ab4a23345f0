import { describe, expect, it } from 'vitest'

/**
 * styles.css as text (vitest empties CSS imports, `?raw` included; the app's tsconfig has no
 * Node types, so `node:fs` comes through getBuiltinModule). Vitest runs in frontend/.
 */
const { process } = globalThis as unknown as {
  process: {
    cwd(): string
    getBuiltinModule(name: 'node:fs'): { readFileSync(path: string, enc: 'utf8'): string }
  }
}
const css = process
  .getBuiltinModule('node:fs')
  .readFileSync(`${process.cwd()}/src/styles.css`, 'utf8')

/** `--name: light-dark(#light, #dark)` of the tokens, as [light, dark]. */
const tokens = new Map(
  [...css.matchAll(/--([a-z0-9-]+):\s*light-dark\((#[0-9a-f]{6}),\s*(#[0-9a-f]{6})\)/g)].map(
    (m) => [m[1] as string, [m[2] as string, m[3] as string] as const],
  ),
)

function luminance(hex: string): number {
  const [r, g, b] = [1, 3, 5].map((i) => {
    const c = parseInt(hex.slice(i, i + 2), 16) / 255
    return c <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4
  }) as [number, number, number]
  return 0.2126 * r + 0.7152 * g + 0.0722 * b
}

/** WCAG's contrast ratio of two colours. */
export function contrast(a: string, b: string): number {
  const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x) as [number, number]
  return (hi + 0.05) / (lo + 0.05)
}

const SURFACES = ['bg', 'bg-soft', 'sidebar', 'surface', 'surface-2', 'user-bubble']
const CODE = ['code-bg', 'code-head']

/** Text colour → the backgrounds it is written on. */
const PAIRS: Array<[string, string[]]> = [
  ['text', [...SURFACES, 'accent-soft', ...CODE]],
  ['muted', [...SURFACES, 'accent-soft', ...CODE]],
  ['faint', [...SURFACES, 'accent-soft', ...CODE]],
  ['accent', [...SURFACES, 'accent-soft']],
  ['danger', SURFACES],
  ['ok-text', ['ok-bg', ...SURFACES]],
  ['warn-text', ['warn-bg', ...SURFACES]],
  ['error-text', ['error-bg', ...SURFACES]],
  ['accent-text', ['accent']],
  ...['keyword', 'string', 'number', 'comment', 'title', 'type', 'attr'].map(
    (name): [string, string[]] => [`hl-${name}`, CODE],
  ),
]

describe('colour tokens', () => {
  it('every text colour has a contrast of at least 4.5:1 on its backgrounds, both themes', () => {
    const low: string[] = []
    for (const [fg, backgrounds] of PAIRS) {
      for (const bg of backgrounds) {
        for (const side of [0, 1] as const) {
          const a = tokens.get(fg)?.[side]
          const b = tokens.get(bg)?.[side]
          expect(a && b, `--${fg} / --${bg}`).toBeTruthy()
          const ratio = contrast(a as string, b as string)
          if (ratio < 4.5)
            low.push(`--${fg} on --${bg} (${side ? 'dark' : 'light'}): ${ratio.toFixed(2)}`)
        }
      }
    }
    expect(low).toEqual([])
  })
})
