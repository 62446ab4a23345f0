import { http } from './http'
import type { Schemas } from './types'

/** `GET /api/v1/health` (public): `status` and `db` are `ok` when up, and the version. */
export type Health = Schemas['Health']

export function getHealth(signal?: AbortSignal): Promise<Health> {
  return http.get<Health>('api/v1/health', { signal })
}
