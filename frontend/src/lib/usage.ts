import type { UsageRow } from '@/api/types'

export type UsageMetric = 'tokens' | 'messages'

/** A stacked bar chart's data: one bar per label, one segment per series (model). */
export interface UsageChartData {
  labels: string[]
  series: string[]
  /** values[label][series] */
  values: number[][]
  max: number
  /** Bars are days (else users). */
  perDay: boolean
}

const value = (row: UsageRow, metric: UsageMetric) =>
  metric === 'messages'
    ? row.messages || 0
    : (row.prompt_tokens || 0) + (row.completion_tokens || 0)

/** Every day from `from` to `to` (YYYY-MM-DD, both included, at most 400). */
export function daysBetween(from: string, to: string): string[] {
  const days: string[] = []
  const day = new Date(`${from}T00:00:00Z`)
  const end = new Date(`${to}T00:00:00Z`)
  if (Number.isNaN(day.getTime()) || Number.isNaN(end.getTime())) return days
  while (day <= end && days.length < 400) {
    days.push(day.toISOString().slice(0, 10))
    day.setUTCDate(day.getUTCDate() + 1)
  }
  return days
}

/**
 * Rows → chart data. With a `day` on the rows, one bar per day of the range (empty days show
 * as gaps); without, one bar per user. Segments are the models, biggest first.
 */
export function usageChart(
  rows: UsageRow[],
  metric: UsageMetric,
  range: { from: string; to: string },
): UsageChartData {
  const perDay = rows.some((r) => r.day)
  const labelOf = (r: UsageRow) =>
    perDay ? (r.day ?? '').slice(0, 10) : r.username || r.user_id || '?'
  const modelOf = (r: UsageRow) => r.model_id || '—'

  const modelTotals = new Map<string, number>()
  for (const r of rows)
    modelTotals.set(modelOf(r), (modelTotals.get(modelOf(r)) ?? 0) + value(r, metric))
  const series = [...modelTotals.entries()].sort((a, b) => b[1] - a[1]).map(([m]) => m)

  let labels: string[]
  if (perDay) {
    labels = daysBetween(range.from, range.to)
    for (const r of rows) if (!labels.includes(labelOf(r))) labels.push(labelOf(r))
    labels.sort()
  } else {
    const userTotals = new Map<string, number>()
    for (const r of rows)
      userTotals.set(labelOf(r), (userTotals.get(labelOf(r)) ?? 0) + value(r, metric))
    labels = [...userTotals.entries()].sort((a, b) => b[1] - a[1]).map(([u]) => u)
  }

  const values = labels.map(() => series.map(() => 0))
  for (const r of rows) {
    const li = labels.indexOf(labelOf(r))
    const si = series.indexOf(modelOf(r))
    if (li >= 0 && si >= 0) values[li]![si]! += value(r, metric)
  }
  const max = Math.max(0, ...values.map((v) => v.reduce((a, b) => a + b, 0)))
  return { labels, series, values, max, perDay }
}

/** A round axis top above `max` (1, 2, 2.5 or 5 × 10ⁿ), and its tick values. */
export function niceScale(max: number, ticks = 4): { top: number; ticks: number[] } {
  if (max <= 0) return { top: 1, ticks: [0, 1] }
  const rough = max / ticks
  const power = 10 ** Math.floor(Math.log10(rough))
  const step = ([1, 2, 2.5, 5, 10].find((m) => m * power >= rough) ?? 10) * power
  const top = Math.ceil(max / step) * step
  const values: number[] = []
  for (let v = 0; v <= top + step / 2; v += step) values.push(Math.round(v * 1000) / 1000)
  return { top, ticks: values }
}

/** 1234567 → "1.2M", 12345 → "12.3k", 999 → "999". */
export function compactNumber(n: number): string {
  if (n >= 1_000_000) return `${Math.round(n / 100_000) / 10}M`
  if (n >= 1_000) return `${Math.round(n / 100) / 10}k`
  return String(n)
}

/** Totals per user and model for the table under the chart. */
export function usageTotals(rows: UsageRow[]): UsageRow[] {
  const map = new Map<string, UsageRow>()
  for (const r of rows) {
    const key = `${r.user_id}\u0000${r.model_id ?? ''}`
    const t = map.get(key)
    if (t) {
      t.messages += r.messages || 0
      t.prompt_tokens += r.prompt_tokens || 0
      t.completion_tokens += r.completion_tokens || 0
    } else {
      map.set(key, {
        user_id: r.user_id,
        username: r.username,
        model_id: r.model_id,
        messages: r.messages || 0,
        prompt_tokens: r.prompt_tokens || 0,
        completion_tokens: r.completion_tokens || 0,
      })
    }
  }
  return [...map.values()].sort(
    (a, b) => b.prompt_tokens + b.completion_tokens - (a.prompt_tokens + a.completion_tokens),
  )
}
