import type { OpenApiDocument } from '@/lib/openapi'

import { http } from './http'

/** `GET /api/v1/openapi.json` (public): the OpenAPI 3.1 document of the native API and the compatibility dialects. */
export function getOpenApi(signal?: AbortSignal): Promise<OpenApiDocument> {
  return http.get<OpenApiDocument>('api/v1/openapi.json', { signal })
}
