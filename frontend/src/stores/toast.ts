import { defineStore } from 'pinia'
import { ref } from 'vue'

export interface Toast {
  id: number
  text: string
  kind: 'info' | 'error'
}

/** Short notices ("Copied", "Saved", an action's error), announced to screen readers. */
export const useToastStore = defineStore('toast', () => {
  const toasts = ref<Toast[]>([])
  let next = 1

  function show(text: string, kind: Toast['kind'] = 'info', ms = 2600): void {
    const id = next++
    toasts.value.push({ id, text, kind })
    setTimeout(() => dismiss(id), ms)
  }

  function dismiss(id: number): void {
    toasts.value = toasts.value.filter((t) => t.id !== id)
  }

  return { toasts, show, dismiss }
})
