/**
 * Reading the server's OpenAPI document (`/api/v1/openapi.json`) into what the API reference
 * page shows: operations grouped by tag, and each schema as a flat list of fields. Pure
 * functions, unit-tested; the page only renders their results.
 */

/** The parts of an OpenAPI 3.1 schema object the page uses. */
export interface Schema {
  $ref?: string
  type?: string | string[]
  description?: string
  properties?: Record<string, Schema>
  required?: string[]
  items?: Schema
  oneOf?: Schema[]
  additionalProperties?: boolean | Schema
}

interface MediaType {
  schema?: Schema
}

interface Operation {
  operationId?: string
  summary?: string
  description?: string
  tags?: string[]
  security?: Record<string, string[]>[]
  parameters?: {
    name: string
    in: string
    required?: boolean
    description?: string
    schema?: Schema
  }[]
  requestBody?: { content?: Record<string, MediaType>; required?: boolean; description?: string }
  responses?: Record<string, { description?: string; content?: Record<string, MediaType> }>
}

export interface OpenApiDocument {
  openapi: string
  info: { title: string; version: string; description?: string }
  servers?: { url: string }[]
  paths: Record<string, Record<string, Operation>>
  components?: { schemas?: Record<string, Schema> }
}

/** One field of a schema, flattened for display. */
export interface Field {
  name: string
  type: string
  required: boolean
  description: string
}

export interface ResponseView {
  status: string
  description: string
  contentType: string | null
  schema: string | null
}

export interface OperationView {
  key: string
  method: string
  path: string
  id: string
  description: string
  public: boolean
  parameters: Field[]
  body: { schema: string; fields: Field[] } | null
  responses: ResponseView[]
}

const METHODS = ['get', 'post', 'put', 'patch', 'delete']

/** The name a `$ref` points at: `#/components/schemas/User` → `User`. */
export function refName(ref: string): string {
  return ref.split('/').pop() ?? ref
}

/** A short type label: `string`, `integer | null`, `Message[]`, `User`. */
export function typeLabel(schema: Schema | undefined): string {
  if (!schema) return 'any'
  if (schema.$ref) return refName(schema.$ref)
  if (schema.oneOf) return schema.oneOf.map(typeLabel).join(' | ')
  if (Array.isArray(schema.type)) {
    return schema.type.map((t) => (t === 'array' ? `${typeLabel(schema.items)}[]` : t)).join(' | ')
  }
  if (schema.type === 'array') return `${typeLabel(schema.items)}[]`
  if (schema.type === 'object' && schema.additionalProperties && !schema.properties) {
    return 'object'
  }
  return schema.type ?? 'any'
}

/** The fields of a named (or inline) object schema. */
export function fieldsOf(doc: OpenApiDocument, schema: Schema | undefined): Field[] {
  const resolved = schema?.$ref ? doc.components?.schemas?.[refName(schema.$ref)] : schema
  if (!resolved?.properties) return []
  const required = new Set(resolved.required ?? [])
  return Object.entries(resolved.properties).map(([name, prop]) => ({
    name,
    type: typeLabel(prop),
    required: required.has(name),
    description: prop.description ?? '',
  }))
}

/** Operations grouped by their first tag, in the document's order. */
export function operationsByTag(doc: OpenApiDocument): [string, OperationView[]][] {
  const groups = new Map<string, OperationView[]>()
  for (const [path, item] of Object.entries(doc.paths)) {
    for (const method of METHODS) {
      const op = item[method]
      if (!op) continue
      const tag = op.tags?.[0] ?? 'other'
      const json = op.requestBody?.content?.['application/json']?.schema
      const view: OperationView = {
        key: `${method} ${path}`,
        method: method.toUpperCase(),
        path,
        id: op.operationId ?? `${method}-${path}`,
        description: op.description ?? op.summary ?? '',
        public: (op.security ?? []).some((s) => Object.keys(s).length === 0),
        parameters: (op.parameters ?? []).map((p) => ({
          name: `${p.name} (${p.in})`,
          type: typeLabel(p.schema),
          required: p.required ?? false,
          description: p.description ?? '',
        })),
        body: json ? { schema: typeLabel(json), fields: fieldsOf(doc, json) } : null,
        responses: Object.entries(op.responses ?? {}).map(([status, res]) => {
          const [contentType, media] = Object.entries(res.content ?? {})[0] ?? [null, undefined]
          return {
            status,
            description: res.description ?? '',
            contentType,
            schema: media?.schema ? typeLabel(media.schema) : null,
          }
        }),
      }
      const list = groups.get(tag) ?? []
      list.push(view)
      groups.set(tag, list)
    }
  }
  return [...groups.entries()]
}
