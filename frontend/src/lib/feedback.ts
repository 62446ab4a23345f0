/** Why an answer was bad (a thumbs down): the codes the server knows, in the order shown. */
export const FEEDBACK_REASONS = [
  'style',
  'too_verbose',
  'not_helpful',
  'incorrect',
  'ignored_instructions',
  'refused',
  'unsafe',
  'other',
] as const

export type FeedbackReason = (typeof FEEDBACK_REASONS)[number]

/** Only the known codes, each once, in the order above (a server may send others). */
export function knownReasons(reasons: readonly string[] | null | undefined): FeedbackReason[] {
  const given = new Set(reasons ?? [])
  return FEEDBACK_REASONS.filter((code) => given.has(code))
}
