/** Models a user may pick: `/api/v1/models`. */
import { http } from '@/api/http'
import type { Model } from '@/api/types'

export const listModels = () => http.get<{ models: Model[] }>('api/v1/models').then((r) => r.models)
