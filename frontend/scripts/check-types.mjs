// `npm run check:types`: fails when src/api/schema.d.ts is not what `npm run gen:types` makes
// of src/api/openapi.json (the document changed and the types were not regenerated, or the
// types were edited by hand).
import { execFileSync } from 'node:child_process'
import { mkdirSync, readFileSync } from 'node:fs'

const cli = 'node_modules/openapi-typescript/bin/cli.js'
const fresh = 'node_modules/.tmp/schema.d.ts'
mkdirSync('node_modules/.tmp', { recursive: true })
execFileSync(process.execPath, [cli, 'src/api/openapi.json', '-o', fresh], { stdio: 'ignore' })
if (readFileSync(fresh, 'utf8') !== readFileSync('src/api/schema.d.ts', 'utf8')) {
  console.error(
    'src/api/schema.d.ts does not match src/api/openapi.json: run `npm run gen:types` and commit.',
  )
  process.exit(1)
}
