/**
 * The path the app is served under, always ending in `/`: `/` normally, `/chat/` when the
 * server runs with `--base-path /chat`.
 *
 * The server rewrites `<base href="/">` in index.html to its prefix, so `document.baseURI`
 * is the one source of truth. We take the directory of that URL (`new URL('./', base)`),
 * exactly as the browser does when it resolves the relative asset URLs, so the router, the
 * API calls and the assets can never disagree about where the app lives.
 */
export function basePath(baseURI: string = document.baseURI): string {
  return new URL('./', baseURI).pathname
}
