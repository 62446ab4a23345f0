// A small OpenAI-compatible upstream for the browser tests, used when FAKE_LLM_URL is not
// given (CI passes the Rust `fake-llm` instead; both speak the same magic words):
//   node e2e/fake-openai.mjs [--port 0]   → prints `fake-llm listening on http://127.0.0.1:PORT`
// GET /v1/models, POST /v1/chat/completions (stream or not). In the last user message,
// `[[slow]]` waits 200 ms per token, `[[tokens:N]]` answers N tokens, `[[fail:CODE]]`
// answers that HTTP status, `[[code]]` adds a fenced code block. Every answer is numbered
// ("Answer 3"), so two versions of an answer differ.
import { createServer } from 'node:http'
import { parseArgs } from 'node:util'

const MODELS = ['fake-gpt', 'fake-gpt-mini']
let answers = 0

function words(question, count, code) {
  const n = ++answers
  const base = `Answer ${n}: here is a **streamed** reply about “${question.slice(0, 40)}”.`
  const filler = ' lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor'
  const tokens = `${base}${filler.repeat(Math.ceil(count / 12))}`
    .split(/(?<= )/)
    .slice(0, Math.max(count, 8))
  if (code) tokens.push('\n\n```python\n', 'def hello():\n', '    print("안녕")\n', '```\n')
  return tokens
}

function lastUser(body) {
  const messages = Array.isArray(body.messages) ? body.messages : []
  const last = [...messages].reverse().find((m) => m.role === 'user')
  const content = last?.content
  return typeof content === 'string' ? content : JSON.stringify(content ?? '')
}

async function readJson(req) {
  let text = ''
  for await (const chunk of req) text += chunk
  try {
    return JSON.parse(text || '{}')
  } catch {
    return {}
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** The server; `server.requests` records every chat completion body it received. */
export function createFake() {
  const requests = []
  const server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const path = url.pathname.replace(/\/+$/, '')
    if (req.method === 'GET' && path.endsWith('/models')) {
      res.writeHead(200, { 'Content-Type': 'application/json' })
      return res.end(
        JSON.stringify({
          object: 'list',
          data: MODELS.map((id) => ({ id, object: 'model', created: 0, owned_by: 'fake' })),
        }),
      )
    }
    if (req.method !== 'POST' || !path.endsWith('/chat/completions')) {
      res.writeHead(404, { 'Content-Type': 'application/json' })
      return res.end(JSON.stringify({ error: { message: 'not found' } }))
    }
    const body = await readJson(req)
    requests.push(body)
    const question = lastUser(body)
    const fail = /\[\[fail:(\d{3})\]\]/.exec(question)
    if (fail) {
      res.writeHead(Number(fail[1]), { 'Content-Type': 'application/json' })
      return res.end(
        JSON.stringify({ error: { message: `fake failure ${fail[1]}`, type: 'fake' } }),
      )
    }
    const count = Number(/\[\[tokens:(\d+)\]\]/.exec(question)?.[1] ?? 24)
    const delay = /\[\[slow\]\]/.test(question) ? 200 : 15
    const tokens = words(
      question.replace(/\[\[[^\]]*\]\]/g, '').trim(),
      count,
      /\[\[code\]\]/.test(question),
    )
    const model = body.model ?? MODELS[0]
    const usage = {
      prompt_tokens: 10,
      completion_tokens: tokens.length,
      total_tokens: 10 + tokens.length,
    }

    if (!body.stream) {
      // Titles and other non-streamed calls: a short answer.
      const content = /title/i.test(JSON.stringify(body.messages ?? ''))
        ? 'Fake chat title'
        : tokens.join('')
      res.writeHead(200, { 'Content-Type': 'application/json' })
      return res.end(
        JSON.stringify({
          id: 'chatcmpl-fake',
          object: 'chat.completion',
          created: 0,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
          usage,
        }),
      )
    }

    res.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache' })
    let closed = false
    res.on('close', () => (closed = true))
    const chunk = (delta, finish = null, extra = {}) =>
      `data: ${JSON.stringify({
        id: 'chatcmpl-fake',
        object: 'chat.completion.chunk',
        created: 0,
        model,
        choices: [{ index: 0, delta, finish_reason: finish }],
        ...extra,
      })}\n\n`
    res.write(chunk({ role: 'assistant', content: '' }))
    for (const token of tokens) {
      if (closed) return
      await sleep(delay)
      res.write(chunk({ content: token }))
    }
    if (closed) return
    res.write(chunk({}, 'stop'))
    if (body.stream_options?.include_usage) {
      res.write(
        `data: ${JSON.stringify({ id: 'chatcmpl-fake', object: 'chat.completion.chunk', created: 0, model, choices: [], usage })}\n\n`,
      )
    }
    res.end('data: [DONE]\n\n')
  })
  server.requests = requests
  return server
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({ options: { port: { type: 'string', default: '0' } } })
  const server = createFake()
  server.listen(Number(values.port), '127.0.0.1', () => {
    console.log(`fake-llm listening on http://127.0.0.1:${server.address().port}`)
  })
}
