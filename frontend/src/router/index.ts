import { createRouter, createWebHistory, type RouteLocationNormalized } from 'vue-router'

import { basePath } from '@/base'
import { useAuthStore } from '@/stores/auth'

/** Route names, so links say `{ name: RouteName.Chat }` instead of a path string. */
export const RouteName = {
  Login: 'login',
  Register: 'register',
  Pending: 'pending',
  Chat: 'chat',
  Conversation: 'conversation',
  Settings: 'settings',
  Admin: 'admin',
  ApiDocs: 'api-docs',
  Shared: 'shared',
  Collector: 'collector',
} as const

declare module 'vue-router' {
  interface RouteMeta {
    /** Only for signed-out visitors (login, register): the signed-in go to the chat. */
    guestOnly?: boolean
    /** Anyone may see it. */
    public?: boolean
    /** Admins only. */
    admin?: boolean
  }
}

export const router = createRouter({
  // History mode under the server's base path: /chat/c/123 is route /c/123.
  history: createWebHistory(basePath()),
  routes: [
    {
      path: '/login',
      name: RouteName.Login,
      component: () => import('@/views/LoginView.vue'),
      meta: { guestOnly: true },
    },
    {
      path: '/register',
      name: RouteName.Register,
      component: () => import('@/views/RegisterView.vue'),
      meta: { guestOnly: true },
    },
    {
      path: '/pending',
      name: RouteName.Pending,
      component: () => import('@/views/PendingView.vue'),
      meta: { public: true },
    },
    {
      // A shared conversation: readable by anyone with the link, signed in or not.
      path: '/s/:id',
      name: RouteName.Shared,
      component: () => import('@/views/SharedView.vue'),
      meta: { public: true },
    },
    {
      path: '/',
      component: () => import('@/views/AppShell.vue'),
      children: [
        { path: '', name: RouteName.Chat, component: () => import('@/views/ChatView.vue') },
        {
          path: 'c/:id',
          name: RouteName.Conversation,
          component: () => import('@/views/ChatView.vue'),
        },
        {
          path: 'settings',
          name: RouteName.Settings,
          component: () => import('@/views/SettingsView.vue'),
        },
        {
          path: 'api-docs',
          name: RouteName.ApiDocs,
          component: () => import('@/views/ApiReferenceView.vue'),
        },
        {
          path: 'collector',
          name: RouteName.Collector,
          component: () => import('@/views/CollectorView.vue'),
        },
        {
          path: 'admin',
          name: RouteName.Admin,
          component: () => import('@/views/AdminView.vue'),
          meta: { admin: true },
        },
      ],
    },
    // Unknown deep links land on the chat rather than a blank page.
    { path: '/:pathMatch(.*)*', redirect: '/' },
  ],
})

/** Where a visitor may go: the sign-in rules for every route, in one place. */
export async function guard(to: RouteLocationNormalized) {
  const auth = useAuthStore()
  if (auth.status === 'unknown') await auth.restore()
  if (to.meta.public) return true
  if (to.meta.guestOnly) return auth.signedIn ? { name: RouteName.Chat } : true
  if (!auth.signedIn) {
    const redirect = to.fullPath !== '/' ? { redirect: to.fullPath } : undefined
    return { name: RouteName.Login, query: redirect }
  }
  if (to.meta.admin && !auth.isAdmin) return { name: RouteName.Chat }
  return true
}

router.beforeEach(guard)

export default router
