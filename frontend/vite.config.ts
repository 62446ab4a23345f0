/// <reference types="vitest/config" />
import { fileURLToPath, URL } from 'node:url'

import vue from '@vitejs/plugin-vue'
import { defineConfig, type Plugin } from 'vite'

// The Rust server (src/spa.rs) embeds dist/ and may serve it under a prefix such as /chat/.
// It rewrites `<base href="/">` in index.html to that prefix, so every URL here stays
// relative: asset URLs resolve against <base>, and the app reads the prefix from
// document.baseURI (src/base.ts). Never hard-code an absolute path in the app.
const server = 'http://127.0.0.1:8080'

/**
 * KaTeX's style sheet lists each font as woff2, woff and ttf; every browser the app runs in
 * takes woff2, so the other two (~0.9 MB the server would embed for nothing) are left out.
 */
function katexWoff2Only(): Plugin {
  return {
    name: 'katex-woff2-only',
    enforce: 'pre',
    transform(code, id) {
      if (!/[\\/]katex[\\/]dist[\\/]katex(\.min)?\.css$/.test(id)) return null
      return code.replace(/,\s*url\([^)]+\.(?:woff|ttf)\)\s*format\("(?:woff|truetype)"\)/g, '')
    },
  }
}

export default defineConfig({
  base: './',
  plugins: [vue(), katexWoff2Only()],
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
    // Mermaid's lazy chunks (cytoscape, its diagram core) are large; they load only with a
    // diagram. The first load has its own budget: scripts/check-bundle.mjs (after build).
    chunkSizeWarningLimit: 700,
  },
  server: {
    proxy: {
      '/api': server,
      '/v1': server,
    },
  },
  test: {
    environment: 'happy-dom',
    include: ['src/**/*.spec.ts', 'scripts/**/*.spec.mjs'],
    // Component tests load lazy route views; on a busy CI machine that can take seconds.
    testTimeout: 20_000,
  },
})
