/** The signed-in user's settings: `/api/v1/user/settings` (theme, language, model, plan…). */
import { http, listOf } from '@/api/http'
import type { Plan, ServerSettings, Subscription } from '@/api/types'

export type SettingsPatch = Partial<Omit<ServerSettings, 'subscription'>>

export const getSettings = () => http.get<ServerSettings>('api/v1/user/settings')

/** Sends only what changed; answers the whole settings. */
export const putSettings = (patch: SettingsPatch) =>
  http.put<ServerSettings>('api/v1/user/settings', patch)

/** Switches to a self-service plan (by id). */
export const putSubscription = (plan: string) =>
  http.put<Subscription>('api/v1/user/settings/subscription', { plan })

/** The self-service plans and the user's current one (`current: true`). */
export const listPublicPlans = () =>
  http.get<unknown>('api/v1/plans').then((body) => listOf<Plan>(body, 'plans'))
