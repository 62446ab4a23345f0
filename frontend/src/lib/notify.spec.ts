import { describe, expect, it } from 'vitest'

import { shouldNotify } from './notify'

describe('shouldNotify', () => {
  const hidden = { visibilityState: 'hidden' as DocumentVisibilityState }
  const visible = { visibilityState: 'visible' as DocumentVisibilityState }

  it('only for a hidden tab, when the user turned it on and the browser allows it', () => {
    expect(shouldNotify(true, hidden, 'granted')).toBe(true)
    expect(shouldNotify(false, hidden, 'granted')).toBe(false)
    expect(shouldNotify(true, visible, 'granted')).toBe(false)
    expect(shouldNotify(true, hidden, 'denied')).toBe(false)
    expect(shouldNotify(true, hidden, 'default')).toBe(false)
    expect(shouldNotify(true, hidden, null)).toBe(false)
  })
})
