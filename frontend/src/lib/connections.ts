import type { ConnectionModel, DiscoveredModel, ModelDraft } from '@/api/types'

/**
 * A model row as `PUT /admin/connections/{id}` takes it (`ModelInput`, unknown fields
 * refused): `id` is the provider's id, which a listed model keeps in `upstream_id` (its own
 * `id` is daehwa's, `<connection>/<id>` when two connections offer the same model).
 */
export function toModelInput(model: ModelDraft): ModelDraft {
  return {
    id: model.upstream_id || model.id,
    name: model.name || model.upstream_id || model.id,
    vendor: model.vendor ?? '',
    description: model.description ?? '',
    context_window: model.context_window ?? null,
    enabled: model.enabled,
    // Issue 20: true / false, or null = guessed from the name. Sent only when the server
    // gave it (or the admin chose), so a model row without it stays as the server had it.
    ...(model.vision !== undefined ? { vision: model.vision } : {}),
  }
}

/** The provider's id of a listed or discovered model. */
function providerId(model: ModelDraft | ConnectionModel | DiscoveredModel): string {
  return ('upstream_id' in model && model.upstream_id) || model.id
}

/**
 * What a successful discovery saves: the models already listed keep the admin's choices
 * (enabled or not, description), every newly found one comes enabled, in the provider's order
 * after them. Null when nothing is new (no need to save).
 */
export function withDiscovered(
  current: Array<ModelDraft | ConnectionModel>,
  found: DiscoveredModel[],
): ModelDraft[] | null {
  const known = new Set(current.map(providerId))
  const added = found.filter((model) => !known.has(model.id))
  if (!added.length) return null
  return [
    ...current.map(toModelInput),
    ...added.map((model) =>
      toModelInput({
        id: model.id,
        name: model.name || model.id,
        vendor: model.vendor,
        description: '',
        context_window: model.context_window ?? null,
        enabled: true,
      }),
    ),
  ]
}
