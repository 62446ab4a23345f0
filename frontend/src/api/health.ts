import { http } from './http'

/** `GET /api/v1/health` (public). */
export interface Health {
  /** `ok` when the server is up. */
  status: string
  /** `ok` when the database answers. */
  db: string
  /** The server's version, e.g. `0.1.0`. */
  version: string
}

export function getHealth(signal?: AbortSignal): Promise<Health> {
  return http.get<Health>('api/v1/health', { signal })
}
