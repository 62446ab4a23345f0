import { createRouter, createWebHistory } from 'vue-router'

import { basePath } from '@/base'

/** Route names, so links say `{ name: RouteName.Home }` instead of a path string. */
export const RouteName = {
  Home: 'home',
  Fallback: 'fallback',
} as const

const HomeView = () => import('@/views/HomeView.vue')

export const router = createRouter({
  // History mode under the server's base path: /chat/c/123 is route /c/123.
  history: createWebHistory(basePath()),
  routes: [
    { path: '/', name: RouteName.Home, component: HomeView },
    // Deep links the app does not know yet (/c/123, …) still open the app shell rather than
    // a blank page; later issues add the real routes above this one.
    { path: '/:pathMatch(.*)*', name: RouteName.Fallback, component: HomeView },
  ],
})

export default router
