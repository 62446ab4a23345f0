import { afterEach, describe, expect, it, vi } from 'vitest'

import type { Sample } from '@/api/types'

vi.mock('@/api/samples', () => ({
  listSamples: vi.fn(),
  getSample: vi.fn(),
  cloneSample: vi.fn(),
  deleteSample: vi.fn(),
}))
vi.mock('@/api/conversations', () => ({
  listConversations: vi.fn(async () => ({ conversations: [], next_cursor: null })),
}))

const samplesApi = await import('@/api/samples')
const { byTestId, mountView, settle, testUser, waitFor } = await import('@/testing/mount')
const { default: SamplesGallery } = await import('./SamplesGallery.vue')

const sample: Sample = {
  id: 's1',
  title: 'Plan a trip',
  description: 'A three-day plan for Busan',
  created_at: '2024-01-01T00:00:00Z',
}

describe('samples gallery', () => {
  let unmount = () => undefined as void
  afterEach(() => unmount())

  it('lists the samples, previews one and clones it into a new conversation', async () => {
    vi.mocked(samplesApi.listSamples).mockResolvedValue([sample])
    vi.mocked(samplesApi.getSample).mockResolvedValue({
      ...sample,
      messages: [
        {
          id: 'u1',
          idx: 0,
          role: 'user',
          content: 'Plan three days in Busan',
          model_id: null,
          status: 'complete',
          parent_id: null,
          sibling_ids: ['u1'],
          created_at: '2024-01-01T00:00:00Z',
          updated_at: '2024-01-01T00:00:00Z',
        },
      ],
    })
    vi.mocked(samplesApi.cloneSample).mockResolvedValue({
      id: 'c9',
      title: 'Plan a trip',
      model_id: null,
      pinned: false,
      archived: false,
      message_count: 1,
      created_at: '2024-01-01T00:00:00Z',
      updated_at: '2024-01-01T00:00:00Z',
    })
    const view = await mountView(SamplesGallery, '/settings', { user: testUser() })
    unmount = view.unmount
    const card = byTestId(view.el, 'sample-card')!
    expect(card.textContent).toContain('Plan a trip')
    expect(card.textContent).toContain('A three-day plan for Busan')
    card.click()
    await settle()
    expect(samplesApi.getSample).toHaveBeenCalledWith('s1')
    expect(byTestId(view.el, 'sample-preview')?.textContent).toContain('Plan three days in Busan')
    expect(byTestId(view.el, 'sample-delete')).toBeNull() // not an admin
    byTestId(view.el, 'sample-use')!.click()
    await waitFor(() => view.router.currentRoute.value.name === 'conversation')
    expect(samplesApi.cloneSample).toHaveBeenCalledWith('s1')
    expect(view.router.currentRoute.value.params.id).toBe('c9')
  })

  it('shows nothing when there are no samples', async () => {
    vi.mocked(samplesApi.listSamples).mockResolvedValue([])
    const view = await mountView(SamplesGallery, '/settings', { user: testUser() })
    unmount = view.unmount
    expect(byTestId(view.el, 'samples-gallery')).toBeNull()
  })
})
