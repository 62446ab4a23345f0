// A stand-in for the Rust server, to run the smoke test without it:
//   node e2e/static-server.mjs [--port 8123] [--base /chat/] [--health ok|error|down]
//                              [--api http://127.0.0.1:PORT] [--csp]
// It serves dist/ the way src/spa.rs does: under an optional base path, with
// `<base href="/">` rewritten to that path, a history-mode fallback to index.html, a 404 for
// a missing file (a last segment with a dot), a fake GET {base}api/v1/health and
// {base}api/v1/auth/setup (a server with accounts) and {base}api/v1/auth/methods (local
// accounts only).
// --health error answers 503 with the API's error body; --health down drops the connection.
// --api forwards every {base}api/* and {base}v1/* request (streams included) to a running
// daehwa instead, so a fresh `npm run build` can be tried against the real server without
// rebuilding the Rust binary that embeds dist/.
// --csp sends the real server's Content-Security-Policy with every page and asset, so a
// browser test finds out whether the app (KaTeX, mermaid, …) works under it.
import { readFile } from 'node:fs/promises'
import { createServer, request as httpRequest } from 'node:http'
import { extname, join, normalize } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '8123' },
    base: { type: 'string', default: '/' },
    health: { type: 'string', default: 'ok' },
    api: { type: 'string' },
    csp: { type: 'boolean', default: false },
  },
})

/** The policy of the Rust server (CONTENT_SECURITY_POLICY in src/security.rs). */
const CSP =
  "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; " +
  "img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; " +
  "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'"

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
  const headers = { 'Content-Type': type, 'Cache-Control': cache }
  if (args.csp) headers['Content-Security-Policy'] = CSP
  res.writeHead(status, headers)
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

  if (args.api && (rest.startsWith('api/') || rest.startsWith('v1/'))) {
    return proxy(req, res, rest)
  }

  if (rest === 'api/v1/auth/refresh') {
    return json(res, 401, { error: 'no refresh cookie', code: 'missing_refresh_token' })
  }
  if (rest === 'api/v1/auth/setup') {
    return json(res, 200, { first_account: false, registration_mode: 'open' })
  }
  if (rest === 'api/v1/auth/methods') {
    return json(res, 200, { local: true, ldap: false, oidc: null, proxy: false })
  }
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

/** Forwards a request to the --api server, as-is and streamed both ways. */
function proxy(req, res, rest) {
  const target = new URL(
    rest + (new URL(req.url ?? '/', 'http://x').search ?? ''),
    `${args.api.replace(/\/+$/, '')}/`,
  )
  const upstream = httpRequest(
    target,
    { method: req.method, headers: { ...req.headers, host: target.host } },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    },
  )
  upstream.on('error', () => {
    if (!res.headersSent) json(res, 502, { error: 'upstream unreachable', code: 'bad_gateway' })
    else res.destroy()
  })
  res.on('close', () => upstream.destroy())
  req.pipe(upstream)
}

function notFound() {
  return { error: 'not found', code: 'not_found' }
}

server.listen(Number(args.port), '127.0.0.1', () => {
  const csp = args.csp ? ', with the CSP' : ''
  console.log(
    `serving ${dist} at http://127.0.0.1:${args.port}${base} (health: ${args.health}${csp})`,
  )
})
