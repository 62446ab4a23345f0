/**
 * Issue 22, directory sign-in: the methods the login page offers (`GET auth/methods`), signing
 * in with the company directory (`POST auth/ldap/login`), behind a Windows sign-in proxy
 * (`POST auth/proxy`), the OpenID Connect start URL (a full-page navigation, not a fetch), and
 * the admins' settings of the three methods (`/admin/sign-in`) with the LDAP tests.
 */
import type { LoginResponse } from '@/api/auth'
import { apiUrl, http, query } from '@/api/http'
import type { AuthMethod } from '@/api/types'

export type { AuthMethod }

// not in the OpenAPI document yet (issue 22): every shape of this file is hand-written from
// the contract (ISSUE22-API.md) until openapi.json has them.

/** `GET auth/methods` (public): what the login page shows besides the local form. */
export interface SignInMethods {
  local: boolean
  ldap: boolean
  /** The button's label ("SSO" → "Sign in with SSO"), or null when OpenID Connect is off. */
  oidc: { label: string } | null
  proxy: boolean
}

/** What the login page assumes of a server that cannot say (an older one): local only. */
export const LOCAL_ONLY: SignInMethods = { local: true, ldap: false, oidc: null, proxy: false }

/** Any answer → a well-formed `SignInMethods` (missing or odd fields count as off). */
export function methodsOf(answer: unknown): SignInMethods {
  const body = (answer && typeof answer === 'object' ? answer : {}) as Record<string, unknown>
  const oidc = body.oidc as { label?: unknown } | null | undefined
  return {
    local: true,
    ldap: body.ldap === true,
    oidc:
      oidc && typeof oidc === 'object'
        ? { label: typeof oidc.label === 'string' && oidc.label.trim() ? oidc.label : 'SSO' }
        : null,
    proxy: body.proxy === true,
  }
}

export const getMethods = () => http.get<unknown>('api/v1/auth/methods').then(methodsOf)

/** Same answer as `POST auth/login` (the refresh cookie is set). */
export const ldapLogin = (username: string, password: string) =>
  http.post<LoginResponse>('api/v1/auth/ldap/login', { username, password })

/** Signs in as the account the trusted proxy's header names (Windows sign-in). */
export const proxyLogin = () => http.post<LoginResponse>('api/v1/auth/proxy', {})

/**
 * Where the browser goes to sign in with OpenID Connect: the server redirects on to the
 * provider and, after the callback, back to `<base><returnTo>`.
 */
export function oidcStartUrl(returnTo = '/'): string {
  return apiUrl(`api/v1/auth/oidc/start${query({ return_to: returnTo })}`)
}

export const AUTH_METHODS: AuthMethod[] = ['local', 'ldap', 'oidc', 'proxy', 'token', 'exchange']
/** The methods whose password lives in the company directory, not here. */
export const DIRECTORY_METHODS: AuthMethod[] = ['ldap', 'oidc', 'proxy']

/** What every section of the admin's settings has besides its fields. */
interface SectionCommon {
  enabled: boolean
  admin_groups: string[]
  allowed_groups: string[]
  /** The fields set by a command-line flag or its environment variable: read-only here. */
  locked: string[]
}

export interface LdapSettings extends SectionCommon {
  url: string
  starttls: boolean
  ca_file: string
  skip_verify: boolean
  bind_dn: string
  /** The service account's password is write-only: only whether there is one. */
  bind_password_set: boolean
  user_base: string
  user_filter: string
  group_base: string
  username_attribute: string
  display_name_attribute: string
  email_attribute: string
  timeout_secs: number
}

export interface OidcSettings extends SectionCommon {
  issuer: string
  client_id: string
  /** The client secret is write-only: only whether there is one. */
  client_secret_set: boolean
  redirect_url: string
  scopes: string
  username_claim: string
  groups_claim: string
  button_label: string
  /** The callback URL the server will use for this request: what to register at the provider. */
  redirect_url_hint: string
}

export interface ProxySettings extends SectionCommon {
  header: string
  groups_header: string
  /** `--trusted-proxies` (the command line only): the addresses whose header is believed. */
  trusted_proxies: string[]
}

/** `GET /admin/sign-in`, and what `PUT` answers. */
export interface SignInSettings {
  ldap: LdapSettings
  oidc: OidcSettings
  proxy: ProxySettings
}

export type SignInSection = keyof SignInSettings

/** The writable fields of each section (the secrets as plain strings: "" clears one). */
export type LdapInput = Partial<
  Omit<LdapSettings, 'locked' | 'bind_password_set'> & { bind_password: string }
>
export type OidcInput = Partial<
  Omit<OidcSettings, 'locked' | 'client_secret_set' | 'redirect_url_hint'> & {
    client_secret: string
  }
>
export type ProxyInput = Partial<Omit<ProxySettings, 'locked' | 'trusted_proxies'>>

/** `PUT /admin/sign-in`: only the fields that change. */
export interface SignInPatch {
  ldap?: LdapInput
  oidc?: OidcInput
  proxy?: ProxyInput
}

export const getSignInSettings = () => http.get<SignInSettings>('api/v1/admin/sign-in')

export const putSignInSettings = (patch: SignInPatch) =>
  http.put<SignInSettings>('api/v1/admin/sign-in', patch)

/** One step of an LDAP connection test. */
export interface LdapTestStep {
  step: 'connect' | 'tls' | 'bind' | 'search' | string
  ok: boolean
  detail: string
}

/** `POST /admin/sign-in/ldap/test`: a directory failure is an answer, not an error. */
export interface LdapTestResult {
  ok: boolean
  server: 'active_directory' | 'ldap' | null
  steps: LdapTestStep[]
}

/** Tests the saved settings with `unsaved` fields merged over them. */
export const testLdap = (unsaved: LdapInput = {}) =>
  http.post<LdapTestResult>(
    'api/v1/admin/sign-in/ldap/test',
    Object.keys(unsaved).length ? { ldap: unsaved } : {},
  )

/** `POST /admin/sign-in/ldap/test-user` */
export interface LdapUserTestResult {
  found: boolean
  dn?: string | null
  username?: string | null
  display_name?: string | null
  email?: string | null
  groups: string[]
  daehwa_groups: { id: string; name: string }[]
  admin: boolean
  allowed: boolean
  /** Null when no password was given. */
  password_ok: boolean | null
  detail: string
}

export const testLdapUser = (username: string, password: string, unsaved: LdapInput = {}) =>
  http.post<LdapUserTestResult>('api/v1/admin/sign-in/ldap/test-user', {
    username,
    ...(password ? { password } : {}),
    ...(Object.keys(unsaved).length ? { ldap: unsaved } : {}),
  })
