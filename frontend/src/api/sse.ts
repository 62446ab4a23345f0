/**
 * Server-sent events over fetch + ReadableStream. EventSource cannot POST a body or send an
 * Authorization header, and the chat's streams are POSTs (send, edit, regenerate) with a
 * bearer token; so we read the stream ourselves, through the same authorized fetch as every
 * other call (the token refresh included).
 */
import { ApiError, authorizedFetch, type Method } from '@/api/http'

export interface SseEvent {
  /** `event:` field; `message` when absent (the SSE default). */
  event: string
  /** `data:` lines joined with `\n`. */
  data: string
  /** `id:` of this event, or the last one seen (SSE's "last event ID"). */
  id: string | null
}

/**
 * An incremental SSE parser (the WHATWG event-stream rules): feed it text as it arrives, in
 * any split, and it answers the events completed so far. Handles LF, CRLF and CR line ends
 * (also a CRLF split across two chunks), `:` comments, `id:`, multi-line `data:`, a single
 * space after the colon, and ignores `retry:` and unknown fields.
 */
export class SseParser {
  private buffer = ''
  private eventType = ''
  private dataLines: string[] = []
  private hasData = false
  private lastId: string | null = null
  private pendingCr = false

  push(chunk: string): SseEvent[] {
    const events: SseEvent[] = []
    let text = chunk
    // A CR ended the previous chunk: a LF starting this one belongs to it.
    if (this.pendingCr && text.startsWith('\n')) text = text.slice(1)
    this.pendingCr = false
    this.buffer += text

    let start = 0
    for (let i = 0; i < this.buffer.length; i++) {
      const ch = this.buffer[i]
      if (ch !== '\n' && ch !== '\r') continue
      const line = this.buffer.slice(start, i)
      if (ch === '\r') {
        if (i + 1 < this.buffer.length) {
          if (this.buffer[i + 1] === '\n') i++
        } else {
          this.pendingCr = true
        }
      }
      start = i + 1
      const event = this.line(line)
      if (event) events.push(event)
    }
    this.buffer = this.buffer.slice(start)
    return events
  }

  /** The stream ended: an unterminated last event is dropped, as the spec says. */
  end(): void {
    this.buffer = ''
    this.dataLines = []
    this.hasData = false
    this.eventType = ''
  }

  private line(line: string): SseEvent | null {
    if (line === '') return this.dispatch()
    if (line.startsWith(':')) return null // comment (`: keep-alive`)
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    switch (field) {
      case 'event':
        this.eventType = value
        break
      case 'data':
        this.dataLines.push(value)
        this.hasData = true
        break
      case 'id':
        if (!value.includes('\0')) this.lastId = value
        break
      default:
        break // `retry` and unknown fields
    }
    return null
  }

  private dispatch(): SseEvent | null {
    const event: SseEvent | null = this.hasData
      ? { event: this.eventType || 'message', data: this.dataLines.join('\n'), id: this.lastId }
      : null
    this.eventType = ''
    this.dataLines = []
    this.hasData = false
    return event
  }
}

export interface StreamOptions {
  onEvent: (event: SseEvent) => void
  signal?: AbortSignal
  /** Resume after this event id (`Last-Event-ID`). */
  lastEventId?: string | null
  /** Defaults to POST with a body, GET without. */
  method?: Method
}

/**
 * Opens an SSE stream and calls `onEvent` for each event until the server closes it. Resolves
 * at the end of the stream; rejects with an ApiError when the server refuses (409, 422 …) or
 * when the connection breaks (`stream_interrupted`), and with an AbortError when `signal`
 * aborts.
 */
export async function streamSse(
  path: string,
  body: unknown,
  { onEvent, signal, lastEventId, method }: StreamOptions,
): Promise<void> {
  const headers: Record<string, string> = { Accept: 'text/event-stream' }
  if (lastEventId) headers['Last-Event-ID'] = lastEventId
  const response = await authorizedFetch(method ?? (body === undefined ? 'GET' : 'POST'), path, {
    body,
    signal,
    headers,
  })

  const type = response.headers.get('Content-Type') ?? ''
  if (!type.includes('text/event-stream') || !response.body) {
    throw new ApiError(response.status, 'invalid_response', 'The server did not send a stream.')
  }

  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
  const parser = new SseParser()
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      for (const event of parser.push(value)) onEvent(event)
    }
  } catch (cause) {
    if (signal?.aborted) throw new DOMException('Aborted', 'AbortError')
    throw new ApiError(
      0,
      'stream_interrupted',
      cause instanceof Error ? cause.message : 'The stream was interrupted.',
    )
  } finally {
    parser.end()
    reader.releaseLock()
  }
}
