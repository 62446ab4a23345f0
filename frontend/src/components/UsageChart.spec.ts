import { afterEach, describe, expect, it, vi } from 'vitest'
import { createApp, h, nextTick } from 'vue'

import type { UsageChartData } from '@/lib/usage'

import UsageChart from './UsageChart.vue'

/** happy-dom lays nothing out: the figure reports the width a 390 px phone gives it. */
function fakeWidth(width: number) {
  vi.spyOn(HTMLElement.prototype, 'clientWidth', 'get').mockReturnValue(width)
}

async function render(data: UsageChartData) {
  const el = document.createElement('div')
  document.body.append(el)
  const app = createApp({ render: () => h(UsageChart, { data, label: 'Usage' }) })
  app.mount(el)
  await nextTick()
  await nextTick()
  return { el, unmount: () => (app.unmount(), el.remove()) }
}

const days = Array.from({ length: 14 }, (_, i) => `2026-11-${String(i + 10).padStart(2, '0')}`)
const perDay: UsageChartData = {
  labels: days,
  series: ['gpt'],
  values: days.map((_, i) => [i * 10]),
  max: 130,
  perDay: true,
}

/** The x of every axis label, and its text. */
function labels(el: HTMLElement) {
  return [...el.querySelectorAll<SVGTextElement>('[data-testid="usage-chart-label"]')].map((t) => ({
    x: Number(t.getAttribute('x')),
    text: (t.textContent ?? '').trim(),
  }))
}

describe('the usage chart', () => {
  let unmount = () => undefined as unknown
  afterEach(() => {
    unmount()
    vi.restoreAllMocks()
  })

  it('on a phone it is drawn at its real width, with fewer day labels that do not touch', async () => {
    fakeWidth(334)
    const view = await render(perDay)
    unmount = view.unmount
    const svg = view.el.querySelector('svg')!
    expect(svg.getAttribute('viewBox')).toBe('0 0 334 220') // 12 px text stays 12 px
    const shown = labels(view.el)
    expect(shown.length).toBeGreaterThanOrEqual(4)
    expect(shown.length).toBeLessThan(days.length)
    for (let i = 1; i < shown.length; i++) {
      // 5 characters of about 7 px, and some room between.
      expect(shown[i]!.x - shown[i - 1]!.x).toBeGreaterThanOrEqual(5 * 7 + 8)
    }
    expect(shown[0]!.text).toBe('11-10')
  })

  it('on a desktop every day has its label', async () => {
    fakeWidth(900)
    const view = await render(perDay)
    unmount = view.unmount
    expect(labels(view.el)).toHaveLength(days.length)
  })

  it('long user names are cut to the room they have', async () => {
    fakeWidth(334)
    const names = ['a_very_long_user_name_indeed', 'bob', 'carol_with_a_long_name']
    const view = await render({
      labels: names,
      series: ['gpt'],
      values: [[3], [2], [1]],
      max: 3,
      perDay: false,
    })
    unmount = view.unmount
    const shown = labels(view.el)
    expect(shown.map((l) => l.text)).toEqual([
      expect.stringMatching(/^a_very_long.*…$/),
      'bob',
      expect.stringMatching(/^carol_with.*…$/),
    ])
    const slot = shown[1]!.x - shown[0]!.x
    for (const label of shown) expect(label.text.length * 7).toBeLessThanOrEqual(slot)
  })
})
