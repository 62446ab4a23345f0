import type { OpenApiDocument } from '@/lib/openapi'

import { http } from './http'

/** `GET /api/v1/openapi.json` (public): the native API's OpenAPI 3.1 document. */
export function getOpenApi(signal?: AbortSignal): Promise<OpenApiDocument> {
  return http.get<OpenApiDocument>('api/v1/openapi.json', { signal })
}
