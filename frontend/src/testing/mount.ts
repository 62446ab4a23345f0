/**
 * Mounts a view the way main.ts does (Pinia, i18n, the app's router) into a detached element,
 * for component tests without an extra test library.
 */
import { createPinia, setActivePinia } from 'pinia'
import { createApp, nextTick, type Component } from 'vue'

import { i18n } from '@/i18n'
import { router } from '@/router'

export async function mountView(component: Component, path: string) {
  const pinia = createPinia()
  setActivePinia(pinia)
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
