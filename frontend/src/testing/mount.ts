/**
 * Mounts a view the way main.ts does (Pinia, i18n, the app's router) into a detached element,
 * for component tests without an extra test library.
 */
import { createPinia, setActivePinia } from 'pinia'
import { createApp, nextTick, type Component } from 'vue'

import type { User } from '@/api/types'
import { i18n } from '@/i18n'
import { router } from '@/router'
import { useAuthStore } from '@/stores/auth'

/** A signed-in user for `mountView(…, { user })`. */
export function testUser(role: User['role'] = 'user'): User {
  return {
    id: `${role}-1`,
    username: role === 'admin' ? 'admin' : 'alice',
    display_name: role === 'admin' ? 'Admin' : 'Alice',
    role,
    status: 'active',
    created_at: '2024-01-01T00:00:00Z',
    updated_at: '2024-01-01T00:00:00Z',
  }
}

export async function mountView(component: Component, path: string, options: { user?: User } = {}) {
  const pinia = createPinia()
  setActivePinia(pinia)
  if (options.user) {
    const auth = useAuthStore()
    auth.user = options.user
    auth.status = 'signedIn'
  }
  i18n.global.locale.value = 'en'
  await router.push(path)
  await router.isReady()
  const el = document.createElement('div')
  document.body.append(el)
  const app = createApp(component).use(pinia).use(router).use(i18n)
  app.mount(el)
  await settle()
  return {
    el,
    router,
    unmount: () => {
      app.unmount()
      el.remove()
    },
  }
}

/** Lets promises and Vue's updates run. */
export async function settle(rounds = 5): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    await new Promise((resolve) => setTimeout(resolve, 0))
    await nextTick()
  }
}

export const byTestId = (el: HTMLElement, id: string) =>
  el.querySelector<HTMLElement>(`[data-testid="${id}"]`)

/** Waits (up to `ms`) until `condition()` holds; lazy route components take a while to load. */
export async function waitFor(condition: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms
  while (!condition() && Date.now() < end) {
    await new Promise((resolve) => setTimeout(resolve, 20))
    await nextTick()
  }
}
