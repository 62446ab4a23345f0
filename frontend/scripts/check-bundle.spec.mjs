// @vitest-environment node
// (Plain JS like the script it tests: scripts/ is outside the app's TypeScript projects.)
// scripts/check-bundle.mjs (run after every build) on small made-up builds: what it counts as
// the first load, and when it fails.
import { spawnSync } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

import { afterEach, describe, expect, it } from 'vitest'

const script = fileURLToPath(new URL('./check-bundle.mjs', import.meta.url))
const dirs = []

/** A dist/ with index.html loading `entry.js` (+ a modulepreload) and the given files. */
function build(files) {
  const dist = mkdtempSync(join(tmpdir(), 'check-bundle-'))
  dirs.push(dist)
  mkdirSync(join(dist, 'assets'))
  writeFileSync(
    join(dist, 'index.html'),
    '<!doctype html><html><head><base href="/">' +
      '<script type="module" crossorigin src="./assets/entry.js"></script>' +
      '<link rel="modulepreload" crossorigin href="./assets/vendor.js">' +
      '</head><body></body></html>',
  )
  for (const [name, code] of Object.entries(files)) writeFileSync(join(dist, 'assets', name), code)
  return dist
}

function check(dist, budgetKb = 150) {
  const run = spawnSync(process.execPath, [script, '--dist', dist, '--budget', String(budgetKb)], {
    encoding: 'utf8',
  })
  return { status: run.status, out: run.stdout + run.stderr }
}

/** `n` bytes that gzip poorly (so the budget can be crossed with little disk). */
function noise(n) {
  let out = ''
  let x = 12345
  while (out.length < n) {
    x = (x * 1103515245 + 12345) % 2 ** 31
    out += String.fromCharCode(33 + (x % 90))
  }
  return `const s=${JSON.stringify(out)};`
}

afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true })
})

describe('check-bundle', () => {
  it('counts the entry, its preloads and their static imports, not dynamic ones', () => {
    const dist = build({
      'entry.js': 'import{a}from"./shared.js";import"./side.js";const l=()=>import("./lazy.js");',
      'vendor.js': 'export const v=1;',
      'shared.js': 'export{b}from"./deep.js";export const a=1;',
      'side.js': 'console.log(1);',
      'deep.js': 'export const b=2;',
      'lazy.js': noise(400_000),
    })
    const { status, out } = check(dist)
    expect(status, out).toBe(0)
    for (const file of ['entry.js', 'vendor.js', 'shared.js', 'side.js', 'deep.js']) {
      expect(out).toContain(`assets/${file}`)
    }
    expect(out).not.toContain('lazy.js')
    expect(out).toMatch(/first-load JS: [\d.]+ KB gzip, within/)
  })

  it('fails at or over the budget', () => {
    const dist = build({
      'entry.js': 'import"./big.js";',
      'vendor.js': '',
      'big.js': noise(30_000),
    })
    expect(check(dist, 150).status).toBe(0)
    const { status, out } = check(dist, 10)
    expect(status).toBe(1)
    expect(out).toMatch(/OVER the budget of 10\.0 KB/)
  })

  it('fails when KaTeX or mermaid is in the first load', () => {
    const dist = build({
      'entry.js': 'import"./katex.js";',
      'vendor.js': '',
      'katex.js': 'throw new Error("KaTeX parse error: x")',
    })
    const { status, out } = check(dist)
    expect(status).toBe(1)
    expect(out).toContain('KaTeX in assets/katex.js')
  })
})
