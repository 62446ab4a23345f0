import { computed, ref, shallowRef, type Ref } from 'vue'

import { toApiErrorValue, type ApiError } from '@/api/http'

/** What a cursor-paginated endpoint answers: a page of items and the cursor of the next one. */
export interface CursorPage<T> {
  items: T[]
  next_cursor: string | null
}

/**
 * A list loaded page by page: `load()` (the first page, replacing the list), `loadMore()`
 * (the next page, appended), the load's error and whether another page exists. The admin
 * panels share it instead of each repeating the same refs and try/catch.
 *
 * `fetchPage(cursor)` gets `null` for the first page. Only the newest load's answer is used,
 * and a local change (`remove`, `replace`) drops the answer of a load still in flight, so a
 * list computed before a delete never brings the deleted row back.
 */
export function usePagedList<T>(fetchPage: (cursor: string | null) => Promise<CursorPage<T>>) {
  const items = ref([]) as Ref<T[]>
  const nextCursor = ref<string | null>(null)
  const error = shallowRef<ApiError | null>(null)
  const loading = ref(false)
  let generation = 0

  async function fetchInto(more: boolean): Promise<void> {
    const mine = ++generation
    loading.value = true
    try {
      const page = await fetchPage(more ? nextCursor.value : null)
      if (mine !== generation) return
      items.value = more ? [...items.value, ...page.items] : page.items
      nextCursor.value = page.next_cursor
      error.value = null
    } catch (e) {
      if (mine === generation) error.value = toApiErrorValue(e)
    } finally {
      if (mine === generation) loading.value = false
    }
  }

  /** A change made here: answers of loads already in flight are stale now. */
  function changed(): void {
    generation++
    loading.value = false
  }

  return {
    items,
    nextCursor,
    error,
    loading,
    hasMore: computed(() => nextCursor.value !== null),
    /** The first page (again): replaces the list. */
    load: () => fetchInto(false),
    /** The next page, appended; nothing when there is none. */
    loadMore: () => (nextCursor.value === null ? Promise.resolve() : fetchInto(true)),
    /** Drops the items `match` picks (after the server deleted them). */
    remove(match: (item: T) => boolean): void {
      changed()
      items.value = items.value.filter((item) => !match(item))
    },
    /** Puts `next` in place of the items `match` picks (after the server changed one). */
    replace(match: (item: T) => boolean, next: T): void {
      changed()
      items.value = items.value.map((item) => (match(item) ? next : item))
    },
  }
}

/** A page whose items sit under another key (`{ users: [...], next_cursor }`) as a CursorPage. */
export function pageOf<K extends string, T>(
  key: K,
  page: { [P in K]: T[] } & { next_cursor?: string | null },
): CursorPage<T> {
  return { items: page[key], next_cursor: page.next_cursor ?? null }
}
