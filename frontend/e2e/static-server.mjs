// A stand-in for the Rust server, to run the smoke test without it:
//   node e2e/static-server.mjs [--port 8123] [--base /chat/] [--health ok|error|down]
// It serves dist/ the way src/spa.rs does: under an optional base path, with
// `<base href="/">` rewritten to that path, a history-mode fallback to index.html, a 404 for
// a missing file (a last segment with a dot), and a fake GET {base}api/v1/health.
// --health error answers 503 with the API's error body; --health down drops the connection.
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '8123' },
    base: { type: 'string', default: '/' },
    health: { type: 'string', default: 'ok' },
  },
})

const dist = fileURLToPath(new URL('../dist/', import.meta.url))
const base = `/${args.base.replace(/^\/+|\/+$/g, '')}/`.replace('//', '/')
const types = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json',
  '.png': 'image/png',
  '.woff2': 'font/woff2',
}

function send(res, status, type, body, cache = 'no-cache') {
  res.writeHead(status, { 'Content-Type': type, 'Cache-Control': cache })
  res.end(body)
}

function json(res, status, value) {
  send(res, status, 'application/json', JSON.stringify(value))
}

async function indexHtml() {
  const html = await readFile(join(dist, 'index.html'), 'utf8')
  return html.replace('<base href="/">', `<base href="${base}">`)
}

const server = createServer(async (req, res) => {
  const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname)
  if (!path.startsWith(base) && `${path}/` !== base) return json(res, 404, notFound())
  if (`${path}/` === base) {
    res.writeHead(308, { Location: base })
    return res.end()
  }
  const rest = path.slice(base.length)

  if (rest.startsWith('api/')) {
    if (rest !== 'api/v1/health') return json(res, 404, notFound())
    if (args.health === 'down') return req.socket.destroy()
    if (args.health === 'error')
      return json(res, 503, { error: 'database unavailable', code: 'db_unavailable' })
    return json(res, 200, { status: 'ok', db: 'ok', version: '0.1.0' })
  }

  const file = normalize(join(dist, rest))
  if (rest !== '' && file.startsWith(dist)) {
    try {
      const body = await readFile(file)
      const cache = rest.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache'
      return send(res, 200, types[extname(file)] ?? 'application/octet-stream', body, cache)
    } catch {
      // fall through
    }
  }
  const last = rest.split('/').pop() ?? ''
  if (last.includes('.')) return send(res, 404, 'text/plain', 'not found')
  return send(res, 200, types['.html'], await indexHtml())
})

function notFound() {
  return { error: 'not found', code: 'not_found' }
}

server.listen(Number(args.port), '127.0.0.1', () => {
  console.log(`serving ${dist} at http://127.0.0.1:${args.port}${base} (health: ${args.health})`)
})
