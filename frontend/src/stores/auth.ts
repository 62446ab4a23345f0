import { defineStore } from 'pinia'
import { computed, ref } from 'vue'

import * as authApi from '@/api/auth'
import * as signinApi from '@/api/signin'
import { ApiError, refreshSession, setAccessToken, setAuthHooks } from '@/api/http'
import type { User } from '@/api/types'
import { useSettingsStore } from '@/stores/settings'

/**
 * The session. `unknown` until the first `restore()` (the refresh cookie, if any, is tried
 * once at start-up), then `signedIn` or `signedOut`. The access token itself lives in
 * api/http.ts's memory, never here and never in storage.
 */
export const useAuthStore = defineStore('auth', () => {
  const user = ref<User | null>(null)
  const status = ref<'unknown' | 'signedIn' | 'signedOut'>('unknown')
  /** Why the session ended on its own (refresh refused, account disabled…), for the login page. */
  const endedBecause = ref<string | null>(null)
  let restoring: Promise<void> | null = null
  /**
   * The user signed out in this page load: the login page then does not sign them straight
   * back in through the Windows sign-in proxy (issue 22).
   */
  const signedOutHere = ref(false)
  /**
   * What the sign-in pages need to know of the server (`GET auth/setup`): `first_account` (no
   * account yet: the next one becomes the administrator) and the registration mode. Null until
   * loaded, and when the server cannot say (an older server): then it is not a first run.
   */
  const setup = ref<authApi.AuthSetup | null>(null)
  let loadingSetup: Promise<void> | null = null

  const firstRun = computed(() => setup.value?.first_account === true)
  const registrationMode = computed(() => setup.value?.registration_mode ?? 'open')
  const isAdmin = computed(() => user.value?.role === 'admin')
  const signedIn = computed(() => status.value === 'signedIn')

  setAuthHooks({
    onRefreshed(response) {
      user.value = response.user as User
      status.value = 'signedIn'
    },
    onSignedOut(error) {
      const wasSignedIn = status.value === 'signedIn'
      user.value = null
      status.value = 'signedOut'
      if (wasSignedIn) endedBecause.value = error.code
    },
  })

  /** Once per page load: turns the refresh cookie (if any) into a session. */
  function restore(): Promise<void> {
    if (!restoring) {
      restoring = refreshSession()
        .then(() => undefined)
        .catch(() => {
          if (status.value === 'unknown') status.value = 'signedOut'
        })
    }
    return restoring
  }

  /** Asks the server whether this is a first run (again with `force`); never fails. */
  function loadSetup(force = false): Promise<void> {
    if (!loadingSetup || force) {
      loadingSetup = authApi
        .getSetup()
        .then((answer) => {
          setup.value = {
            first_account: answer?.first_account === true,
            registration_mode: ['open', 'approval', 'closed'].includes(answer?.registration_mode)
              ? answer.registration_mode
              : 'open',
          }
        })
        .catch(() => {
          // An older server without the route, or a network blip: the usual sign-in page.
          setup.value = null
          loadingSetup = null
        })
    }
    return loadingSetup ?? Promise.resolve()
  }

  /** A sign-in answer (any method) becomes the session: the token in memory, the user here. */
  function adopt(response: authApi.LoginResponse): void {
    setAccessToken(response.access_token)
    user.value = response.user
    status.value = 'signedIn'
    endedBecause.value = null
    signedOutHere.value = false
  }

  async function login(username: string, password: string): Promise<void> {
    adopt(await authApi.login(username, password))
  }

  /** Signs in with the company directory (LDAP / Active Directory; issue 22). */
  async function loginLdap(username: string, password: string): Promise<void> {
    adopt(await signinApi.ldapLogin(username, password))
  }

  /** Signs in as whom the trusted Windows sign-in proxy says the visitor is (issue 22). */
  async function loginProxy(): Promise<void> {
    adopt(await signinApi.proxyLogin())
  }

  /** Registers and, when the account is active at once, signs in. Answers the new user. */
  async function register(username: string, password: string, displayName?: string) {
    const created = await authApi.register(username, password, displayName)
    // Whoever registered, the server has an account now: no longer a first run.
    if (setup.value) setup.value = { ...setup.value, first_account: false }
    if (created.status === 'active') {
      // A new account starts with the theme and language the visitor already picked here.
      useSettingsStore().adoptLocalOnNextLoad()
      await login(username, password)
    }
    return created
  }

  async function logout(): Promise<void> {
    try {
      await authApi.logout()
    } catch (e) {
      // The server may already have forgotten the session; sign out here all the same.
      if (!(e instanceof ApiError)) throw e
    } finally {
      setAccessToken(null)
      user.value = null
      status.value = 'signedOut'
      endedBecause.value = null
      signedOutHere.value = true
    }
  }

  async function changePassword(current: string, next: string): Promise<void> {
    const response = await authApi.changePassword(current, next)
    // Every older access token is void now: use the new one.
    setAccessToken(response.access_token)
  }

  return {
    user,
    status,
    endedBecause,
    isAdmin,
    signedIn,
    setup,
    firstRun,
    registrationMode,
    restore,
    loadSetup,
    signedOutHere,
    login,
    loginLdap,
    loginProxy,
    register,
    logout,
    changePassword,
  }
})
