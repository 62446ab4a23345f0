import { basePath } from '@/base'

/** The address of a shared conversation's page: `https://host/<base>/s/<id>`. */
export function shareLink(
  id: string,
  origin: string = window.location.origin,
  base: string = basePath(),
): string {
  return `${origin}${base}s/${encodeURIComponent(id)}`
}

/** Days from now until an expiry (rounded up; null when it never expires). */
export function daysLeft(expiresAt: string | null, now: Date = new Date()): number | null {
  if (!expiresAt) return null
  const ms = new Date(expiresAt).getTime() - now.getTime()
  return Number.isNaN(ms) ? null : Math.max(0, Math.ceil(ms / 86_400_000))
}
