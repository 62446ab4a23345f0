/**
 * "Your answer is ready" when it finishes in a hidden tab: a browser notification (only when
 * the user turned it on AND the browser granted the permission) and an optional short tone.
 */

/** Whether a finished answer should be announced now. */
export function shouldNotify(
  enabled: boolean,
  doc: Pick<Document, 'visibilityState'> = document,
  permission: NotificationPermission | null = typeof Notification === 'undefined'
    ? null
    : Notification.permission,
): boolean {
  return enabled && doc.visibilityState === 'hidden' && permission === 'granted'
}

/** Asks the browser for the permission; answers whether notifications may be shown. */
export async function askPermission(): Promise<boolean> {
  if (typeof Notification === 'undefined') return false
  if (Notification.permission === 'granted') return true
  if (Notification.permission === 'denied') return false
  return (await Notification.requestPermission()) === 'granted'
}

/** Notifications exist in this browser at all. */
export const notificationsSupported = () => typeof Notification !== 'undefined'

/** Shows the notification; a click brings the tab back. */
export function showNotification(title: string, body: string, tag: string): void {
  try {
    const notification = new Notification(title, { body: body.slice(0, 180), tag })
    notification.onclick = () => {
      window.focus()
      notification.close()
    }
  } catch {
    // Some browsers only allow notifications from a service worker: stay silent.
  }
}

/** A short two-note chime through Web Audio (no sound file to ship). */
export function playChime(): void {
  try {
    const Ctx = window.AudioContext
    if (!Ctx) return
    const ctx = new Ctx()
    const gain = ctx.createGain()
    gain.connect(ctx.destination)
    gain.gain.setValueAtTime(0.08, ctx.currentTime)
    gain.gain.exponentialRampToValueAtTime(0.0001, ctx.currentTime + 0.5)
    for (const [i, freq] of [880, 1320].entries()) {
      const osc = ctx.createOscillator()
      osc.frequency.value = freq
      osc.connect(gain)
      osc.start(ctx.currentTime + i * 0.12)
      osc.stop(ctx.currentTime + 0.5)
    }
    setTimeout(() => void ctx.close(), 800)
  } catch {
    // audio blocked: the notification is enough
  }
}
