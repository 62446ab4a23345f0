import { defineStore } from 'pinia'
import { ref } from 'vue'

/** A button on a toast ("Undo"): runs once, then the toast goes away. */
export interface ToastAction {
  label: string
  run: () => void
}

export interface Toast {
  id: number
  text: string
  kind: 'info' | 'error'
  action?: ToastAction
}

/** Short notices ("Copied", "Saved", an action's error), announced to screen readers. */
export const useToastStore = defineStore('toast', () => {
  const toasts = ref<Toast[]>([])
  let next = 1
  const timers = new Map<number, ReturnType<typeof setTimeout>>()

  /** Shows `text` for `ms`; with an `action`, a button on the toast. Answers the toast's id. */
  function show(
    text: string,
    kind: Toast['kind'] = 'info',
    ms = 2600,
    action?: ToastAction,
  ): number {
    const id = next++
    toasts.value.push({ id, text, kind, action })
    timers.set(
      id,
      setTimeout(() => dismiss(id), ms),
    )
    return id
  }

  function dismiss(id: number): void {
    clearTimeout(timers.get(id))
    timers.delete(id)
    toasts.value = toasts.value.filter((t) => t.id !== id)
  }

  /** The toast's button was pressed: its action runs (once) and the toast goes. */
  function act(id: number): void {
    const toast = toasts.value.find((t) => t.id === id)
    dismiss(id)
    toast?.action?.run()
  }

  return { toasts, show, dismiss, act }
})
