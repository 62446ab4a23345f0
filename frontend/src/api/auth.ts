/** Accounts and the session: `/api/v1/auth/*` and `/api/v1/user/*`. */
import { http, type TokenResponse } from '@/api/http'
import type { RegistrationMode, Schemas, User } from '@/api/types'

export interface LoginResponse extends TokenResponse {
  user: User
}

/** `GET auth/setup` (public): whether the server has no account yet, and who may register. */
export type AuthSetup = Omit<Schemas['AuthSetup'], 'registration_mode'> & {
  registration_mode: RegistrationMode
}

export const getSetup = () => http.get<AuthSetup>('api/v1/auth/setup')

export const login = (username: string, password: string) =>
  http.post<LoginResponse>('api/v1/auth/login', { username, password })

export const register = (username: string, password: string, display_name?: string) =>
  http.post<User>('api/v1/auth/register', {
    username,
    password,
    ...(display_name ? { display_name } : {}),
  })

export const logout = () => http.post<void>('api/v1/auth/logout')

export const me = () => http.get<User>('api/v1/auth/me')

export type PasswordChanged = Schemas['PasswordChanged'] & {
  // not in the OpenAPI document yet
  expires_in: number
}

export const changePassword = (current_password: string, new_password: string) =>
  http.put<PasswordChanged>('api/v1/user/password', { current_password, new_password })
