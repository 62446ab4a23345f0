/** Dates for people: "2024. 1. 5. 14:03" / "Jan 5, 2024, 2:03 PM" in the UI language. */
export function formatDate(iso: string, locale: string): string {
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return iso
  return new Intl.DateTimeFormat(intlLocale(locale), {
    dateStyle: 'medium',
    timeStyle: 'short',
  }).format(date)
}

function intlLocale(locale: string): string {
  return locale === 'ko' ? 'ko-KR' : 'en-US'
}

type Unit = 'second' | 'minute' | 'hour' | 'day'

/**
 * A wait in the units people say it in, rounded up so nobody retries too early:
 * 20 → 20 seconds, 897 → 15 minutes, 7260 → 2 hours 1 minute, 13 h 20 min → 14 hours,
 * 3 days and more → days.
 */
export function durationParts(seconds: number): Array<[number, Unit]> {
  const s = Math.max(1, Math.ceil(seconds))
  if (s < 60) return [[s, 'second']]
  const minutes = Math.ceil(s / 60)
  if (minutes < 60) return [[minutes, 'minute']]
  const hours = Math.floor(minutes / 60)
  const rest = minutes % 60
  if (hours < 10)
    return rest
      ? [
          [hours, 'hour'],
          [rest, 'minute'],
        ]
      : [[hours, 'hour']]
  if (minutes < 48 * 60) return [[Math.ceil(minutes / 60), 'hour']]
  return [[Math.ceil(minutes / (24 * 60)), 'day']]
}

/** "15 minutes" / "15분", "2 hours 1 minute" / "2시간 1분", in the UI language. */
export function formatDuration(seconds: number, locale: string): string {
  return durationParts(seconds)
    .map(([value, unit]) =>
      new Intl.NumberFormat(intlLocale(locale), {
        style: 'unit',
        unit,
        unitDisplay: 'long',
      }).format(value),
    )
    .join(' ')
}

/**
 * When, from now, for a sentence: "in 15 minutes" / "15분 후" (Intl.RelativeTimeFormat), or
 * "in 2 hours 1 minute" / "2시간 1분 후".
 */
export function formatIn(seconds: number, locale: string): string {
  const parts = durationParts(seconds)
  const [first] = parts
  if (parts.length === 1 && first) {
    return new Intl.RelativeTimeFormat(intlLocale(locale), { numeric: 'always' }).format(
      first[0],
      first[1],
    )
  }
  const duration = formatDuration(seconds, locale)
  return locale === 'ko' ? `${duration} 후` : `in ${duration}`
}

/** Seconds from now until an RFC 3339 time (null when it is not a time or already past). */
export function secondsUntil(iso: string | null | undefined, now = Date.now()): number | null {
  if (!iso) return null
  const at = new Date(iso).getTime()
  if (Number.isNaN(at) || at <= now) return null
  return (at - now) / 1000
}
