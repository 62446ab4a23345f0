import { describe, expect, it } from 'vitest'

import type { ConnectionModel } from '@/api/types'

import { toModelInput, withDiscovered } from './connections'

const listed: ConnectionModel = {
  id: 'fake/llama',
  upstream_id: 'llama',
  name: 'Llama',
  vendor: 'meta',
  description: 'kept',
  context_window: 8192,
  enabled: false,
}

describe('models a discovery saves', () => {
  it('a connection without models gets every found model, enabled', () => {
    const models = withDiscovered(
      [],
      [
        { id: 'fake-model', name: 'fake-model', vendor: 'fake' },
        { id: 'fake-mini', name: '', vendor: 'fake', context_window: 4096 },
      ],
    )
    expect(models).toEqual([
      {
        id: 'fake-model',
        name: 'fake-model',
        vendor: 'fake',
        description: '',
        context_window: null,
        enabled: true,
      },
      {
        id: 'fake-mini',
        name: 'fake-mini',
        vendor: 'fake',
        description: '',
        context_window: 4096,
        enabled: true,
      },
    ])
  })

  it('listed models keep the admin’s choices; only new ones are added, enabled', () => {
    const models = withDiscovered(
      [listed],
      [
        { id: 'llama', name: 'Llama', vendor: 'meta' },
        { id: 'qwen', name: 'Qwen', vendor: 'alibaba' },
      ],
    )
    expect(models?.map((m) => [m.id, m.enabled, m.description])).toEqual([
      ['llama', false, 'kept'],
      ['qwen', true, ''],
    ])
  })

  it('nothing new: nothing to save', () => {
    expect(withDiscovered([listed], [{ id: 'llama', name: 'Llama', vendor: 'meta' }])).toBeNull()
    expect(withDiscovered([], [])).toBeNull()
  })

  it('sends the provider’s id, never daehwa’s or fields the server refuses', () => {
    const input = toModelInput(listed)
    expect(input.id).toBe('llama')
    expect(Object.keys(input).sort()).toEqual(
      ['context_window', 'description', 'enabled', 'id', 'name', 'vendor'].sort(),
    )
  })

  it('keeps a model’s vision choice (true, false, or null = auto), only when it has one', () => {
    expect(toModelInput({ ...listed, vision: true }).vision).toBe(true)
    expect(toModelInput({ ...listed, vision: false }).vision).toBe(false)
    expect(toModelInput({ ...listed, vision: null })).toHaveProperty('vision', null)
    expect(toModelInput(listed)).not.toHaveProperty('vision')
  })
})
