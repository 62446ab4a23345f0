/** The user's API keys: `/api/v1/api-keys`. The full key is answered once, on creation. */
import { http } from '@/api/http'
import type { ApiKey, CreatedApiKey } from '@/api/types'

export const listApiKeys = () =>
  http.get<{ api_keys: ApiKey[] }>('api/v1/api-keys').then((r) => r.api_keys)

export const createApiKey = (client_name: string, expires_in_days?: number) =>
  http.post<CreatedApiKey>('api/v1/api-keys', {
    client_name,
    ...(expires_in_days ? { expires_in_days } : {}),
  })

export const revokeApiKey = (id: string) =>
  http.delete<{ message: string }>(`api/v1/api-keys/${encodeURIComponent(id)}`)
