import { afterEach, describe, expect, it, vi } from 'vitest'

import { setAccessToken } from './http'
import { SseParser, streamSse, type SseEvent } from './sse'

function parseAll(chunks: string[]): SseEvent[] {
  const parser = new SseParser()
  return chunks.flatMap((chunk) => parser.push(chunk))
}

describe('SseParser', () => {
  it('parses named events with ids and JSON data', () => {
    const events = parseAll([
      'event: message\ndata: {"a":1}\n\n',
      'id: 1\nevent: delta\ndata: {"content":"Hel"}\n\n',
    ])
    expect(events).toEqual([
      { event: 'message', data: '{"a":1}', id: null },
      { event: 'delta', data: '{"content":"Hel"}', id: '1' },
    ])
  })

  it('survives any split of the stream, even inside a field name or between CR and LF', () => {
    const text =
      'event: delta\r\nid: 7\r\ndata: {"content":"안녕"}\r\n\r\nevent: done\r\ndata: {}\r\n\r\n'
    const whole = parseAll([text])
    for (let size = 1; size <= 7; size++) {
      const chunks: string[] = []
      for (let i = 0; i < text.length; i += size) chunks.push(text.slice(i, i + size))
      expect(parseAll(chunks)).toEqual(whole)
    }
    expect(whole).toEqual([
      { event: 'delta', data: '{"content":"안녕"}', id: '7' },
      { event: 'done', data: '{}', id: '7' },
    ])
  })

  it('accepts bare CR line ends', () => {
    expect(parseAll(['data: x\r\r'])).toEqual([{ event: 'message', data: 'x', id: null }])
  })

  it('ignores comments (keep-alive) and unknown fields', () => {
    const events = parseAll([': keep-alive\n\n', 'retry: 100\nfoo: bar\ndata: y\n\n', ':\n'])
    expect(events).toEqual([{ event: 'message', data: 'y', id: null }])
  })

  it('joins multi-line data with newlines and keeps spaces after the first one', () => {
    const events = parseAll(['data: line one\ndata:  indented\ndata\n\n'])
    expect(events[0]?.data).toBe('line one\n indented\n')
  })

  it('does not dispatch an event without data, nor an unterminated last event', () => {
    const parser = new SseParser()
    expect(parser.push('event: ping\n\n')).toEqual([])
    expect(parser.push('data: half')).toEqual([])
    parser.end()
    expect(parser.push('\n\n')).toEqual([])
  })
})

describe('streamSse', () => {
  afterEach(() => {
    vi.unstubAllGlobals()
    setAccessToken(null)
  })

  function streamOf(chunks: string[]): ReadableStream<Uint8Array> {
    const encoder = new TextEncoder()
    return new ReadableStream({
      start(controller) {
        for (const chunk of chunks) controller.enqueue(encoder.encode(chunk))
        controller.close()
      },
    })
  }

  it('POSTs the body with the bearer token and delivers each event', async () => {
    setAccessToken('tok')
    const fetchMock = vi.fn<typeof fetch>().mockResolvedValue(
      new Response(
        streamOf([
          'event: delta\nid: 1\ndata: {"content":"a"}\n',
          '\nevent: done\n',
          'data: {}\n\n',
        ]),
        {
          headers: { 'Content-Type': 'text/event-stream' },
        },
      ),
    )
    vi.stubGlobal('fetch', fetchMock)
    const seen: SseEvent[] = []
    await streamSse(
      'api/v1/conversations/1/messages',
      { content: 'hi' },
      {
        onEvent: (e) => seen.push(e),
      },
    )
    expect(seen.map((e) => e.event)).toEqual(['delta', 'done'])
    const [url, init] = fetchMock.mock.calls[0]!
    expect(url).toBe('/api/v1/conversations/1/messages')
    expect(init?.method).toBe('POST')
    expect(init?.body).toBe('{"content":"hi"}')
    expect(init?.headers).toMatchObject({
      Accept: 'text/event-stream',
      Authorization: 'Bearer tok',
    })
  })

  it('GETs with Last-Event-ID to resume, and throws the server error of a refused stream', async () => {
    const fetchMock = vi
      .fn<typeof fetch>()
      .mockResolvedValueOnce(
        new Response(streamOf([]), { headers: { 'Content-Type': 'text/event-stream' } }),
      )
      .mockResolvedValueOnce(
        new Response(JSON.stringify({ error: 'busy', code: 'generation_in_progress' }), {
          status: 409,
        }),
      )
    vi.stubGlobal('fetch', fetchMock)
    await streamSse('api/v1/conversations/1/stream', undefined, {
      onEvent: () => undefined,
      lastEventId: '41',
    })
    const [, init] = fetchMock.mock.calls[0]!
    expect(init?.method).toBe('GET')
    expect(init?.headers).toMatchObject({ 'Last-Event-ID': '41' })

    await expect(
      streamSse('api/v1/conversations/1/messages', {}, { onEvent: () => undefined }),
    ).rejects.toMatchObject({ status: 409, code: 'generation_in_progress' })
  })
})
