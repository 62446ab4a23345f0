/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url'

import vue from '@vitejs/plugin-vue'
import { defineConfig } from 'vite'

// The Rust server (src/spa.rs) embeds dist/ and may serve it under a prefix such as /chat/.
// It rewrites `<base href="/">` in index.html to that prefix, so every URL here stays
// relative: asset URLs resolve against <base>, and the app reads the prefix from
// document.baseURI (src/base.ts). Never hard-code an absolute path in the app.
const server = 'http://127.0.0.1:8080'

export default defineConfig({
  base: './',
  plugins: [vue()],
  resolve: {
    alias: { '@': fileURLToPath(new URL('./src', import.meta.url)) },
  },
  define: {
    // vue-i18n feature flags: Composition API only, no devtools hooks in production.
    __VUE_I18N_FULL_INSTALL__: true,
    __VUE_I18N_LEGACY_API__: false,
    __INTLIFY_PROD_DEVTOOLS__: false,
  },
  build: {
    outDir: 'dist',
    assetsDir: 'assets',
    emptyOutDir: true,
  },
  server: {
    proxy: {
      '/api': server,
      '/v1': server,
    },
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.spec.ts'],
    // Component tests load lazy route views; on a busy CI machine that can take seconds.
    testTimeout: 20_000,
  },
})
