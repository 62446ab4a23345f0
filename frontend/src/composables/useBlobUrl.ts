/** A blob URL for an authorized file path (lib/fileBlobs.ts), held while the component lives. */
import { onScopeDispose, ref, watch, type Ref } from 'vue'

import { acquireBlobUrl, releaseBlobUrl } from '@/lib/fileBlobs'

export function useBlobUrl(path: () => string | null): {
  url: Ref<string | null>
  failed: Ref<boolean>
} {
  const url = ref<string | null>(null)
  const failed = ref(false)
  let held: string | null = null

  function letGo(): void {
    if (held) releaseBlobUrl(held)
    held = null
  }

  watch(
    path,
    (next) => {
      letGo()
      url.value = null
      failed.value = false
      if (!next) return
      held = next
      acquireBlobUrl(next).then(
        (value) => {
          if (held === next) url.value = value
        },
        () => {
          if (held === next) failed.value = true
        },
      )
    },
    { immediate: true },
  )
  onScopeDispose(letGo)
  return { url, failed }
}
