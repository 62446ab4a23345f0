import { describe, expect, it } from 'vitest'

import { fieldsOf, operationsByTag, typeLabel, type OpenApiDocument } from './openapi'

const doc: OpenApiDocument = {
  openapi: '3.1.0',
  info: { title: 'daehwa', version: '0.1.0' },
  paths: {
    '/health': {
      get: {
        operationId: 'health',
        tags: ['public'],
        security: [{}],
        responses: {
          '200': {
            description: '',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Health' } } },
          },
        },
      },
    },
    '/conversations/{id}/messages': {
      post: {
        operationId: 'post_message',
        tags: ['conversations'],
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string' } }],
        requestBody: {
          content: { 'application/json': { schema: { $ref: '#/components/schemas/MessageBody' } } },
        },
        responses: {
          '201': {
            content: { 'application/json': { schema: { $ref: '#/components/schemas/X' } } },
          },
          '200': { content: { 'text/event-stream': { schema: { type: 'string' } } } },
        },
      },
    },
  },
  components: {
    schemas: {
      Health: { type: 'object', properties: { status: { type: 'string' } }, required: ['status'] },
      MessageBody: {
        type: 'object',
        required: ['content'],
        properties: {
          content: { type: 'string', description: 'the question' },
          model_id: { type: ['string', 'null'] },
          ids: { type: ['array', 'null'], items: { type: 'string' } },
        },
      },
    },
  },
}

describe('the OpenAPI reader', () => {
  it('labels types, nullable ones and arrays', () => {
    expect(typeLabel({ type: 'string' })).toBe('string')
    expect(typeLabel({ type: ['integer', 'null'] })).toBe('integer | null')
    expect(typeLabel({ type: 'array', items: { $ref: '#/components/schemas/Message' } })).toBe(
      'Message[]',
    )
    expect(typeLabel({ oneOf: [{ type: 'null' }, { $ref: '#/a/User' }] })).toBe('null | User')
  })

  it('flattens a referenced schema into fields with their required flag', () => {
    expect(fieldsOf(doc, { $ref: '#/components/schemas/MessageBody' })).toEqual([
      { name: 'content', type: 'string', required: true, description: 'the question' },
      { name: 'model_id', type: 'string | null', required: false, description: '' },
      { name: 'ids', type: 'string[] | null', required: false, description: '' },
    ])
  })

  it('groups operations by tag and reads bodies, parameters, responses and public routes', () => {
    const groups = operationsByTag(doc)
    expect(groups.map(([tag]) => tag)).toEqual(['public', 'conversations'])
    const health = groups[0]![1][0]!
    expect(health).toMatchObject({ method: 'GET', path: '/health', public: true, body: null })
    const post = groups[1]![1][0]!
    expect(post.public).toBe(false)
    expect(post.parameters[0]).toMatchObject({ name: 'id (path)', required: true })
    expect(post.body?.schema).toBe('MessageBody')
    expect(post.body?.fields).toHaveLength(3)
    // Status keys come back in numeric order (JavaScript orders integer-like keys).
    expect(post.responses).toEqual([
      { status: '200', description: '', contentType: 'text/event-stream', schema: 'string' },
      { status: '201', description: '', contentType: 'application/json', schema: 'X' },
    ])
  })
})
