// First-load JS budget: what a visitor's browser must fetch before the app can start — the
// entry script of dist/index.html, its modulepreloads, and every module they import
// statically — gzipped, must stay under the budget (issue 18: 150 KB). KaTeX, mermaid and
// highlight.js belong in lazy chunks (dynamic imports), never here.
//   node scripts/check-bundle.mjs [--dist dist] [--budget 150]      (npm run check:bundle)
import { readFileSync } from 'node:fs'
import { dirname, join, normalize, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { gzipSync } from 'node:zlib'

const { values: args } = parseArgs({
  options: {
    dist: { type: 'string', default: fileURLToPath(new URL('../dist/', import.meta.url)) },
    budget: { type: 'string', default: '150' },
  },
})
const dist = normalize(`${args.dist}/`)
const budget = Number(args.budget) * 1000

/** `./assets/x.js` or `assets/x.js` in index.html → a path under dist/. */
function fromHtml(url) {
  return normalize(join(dist, url.replace(/^\.?\//, '')))
}

/** The module files a JS module imports statically (not `import(…)`). */
function staticImports(file) {
  const code = readFileSync(file, 'utf8')
  const found = new Set()
  // `import x from "./a.js"`, `import{a}from"./b.js"`, `import "./c.js"`, `export … from`.
  const pattern =
    /(?:^|[;\s}])(?:import|export)\s*(?:[\w*${}\s,]*?\s*from\s*)?["']([^"']+\.js)["']/g
  for (const match of code.matchAll(pattern)) {
    const spec = match[1]
    if (spec.startsWith('.')) found.add(normalize(join(dirname(file), spec)))
  }
  return found
}

const html = readFileSync(join(dist, 'index.html'), 'utf8')
const roots = new Set()
for (const tag of html.matchAll(/<script\b[^>]*\bsrc="([^"]+)"[^>]*>/g)) roots.add(fromHtml(tag[1]))
for (const tag of html.matchAll(/<link\b[^>]*\brel="modulepreload"[^>]*>/g)) {
  const href = /\bhref="([^"]+)"/.exec(tag[0])
  if (href) roots.add(fromHtml(href[1]))
}
if (roots.size === 0) {
  console.error(`check-bundle: no entry script in ${join(dist, 'index.html')}`)
  process.exit(1)
}

const files = new Set()
const queue = [...roots]
while (queue.length) {
  const file = queue.pop()
  if (files.has(file)) continue
  files.add(file)
  queue.push(...staticImports(file))
}

/** Libraries that must only ever load lazily, by a string each of them carries. */
const LAZY_ONLY = [
  ['KaTeX', /KaTeX parse error/],
  ['mermaid', /suppressErrorRendering/],
  ['highlight.js', /Language definition for/],
]

let total = 0
const rows = []
const misplaced = []
for (const file of files) {
  const body = readFileSync(file)
  const size = gzipSync(body, { level: 9 }).length
  total += size
  rows.push([relative(dist, file), size])
  const code = body.toString('utf8')
  for (const [name, marker] of LAZY_ONLY) {
    if (marker.test(code)) misplaced.push(`${name} in ${relative(dist, file)}`)
  }
}
rows.sort((a, b) => b[1] - a[1])
const kb = (bytes) => `${(bytes / 1000).toFixed(1)} KB`
for (const [name, size] of rows) console.log(`  ${kb(size).padStart(9)}  ${name}`)
const verdict = total < budget ? 'within' : 'OVER'
console.log(`first-load JS: ${kb(total)} gzip, ${verdict} the budget of ${kb(budget)}`)

if (misplaced.length) {
  console.error(`check-bundle: lazy-only code in the first load: ${misplaced.join(', ')}`)
  process.exit(1)
}
if (total >= budget) process.exit(1)
