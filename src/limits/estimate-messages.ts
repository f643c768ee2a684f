/**
 * How the prompt estimate (`estimate.ts`) reads Anthropic Messages blocks that are not
 * text: an image's source, and whether a document's text is all it bills. Pure.
 */

/** An Anthropic image source as a data URL the sizer reads (base64 only; other sources have no size to read). */
export function anthropicImageUrl(source: unknown): string | undefined {
  const s = (source ?? {}) as { type?: unknown; media_type?: unknown; data?: unknown };
  return s.type === 'base64' && typeof s.data === 'string' ? `data:${String(s.media_type)};base64,${s.data}` : undefined;
}

/**
 * An Anthropic document whose text is all it bills: a `text` or `content` source without
 * citations. A PDF (base64, url, file id) becomes a page image and text a page upstream, and
 * citations chunk the text and add a prompt of their own: neither bounded by the body. A
 * `search_result` block with citations is chunked the same way (`estimate.ts`).
 */
export function plainDocument(part: Record<string, unknown>): boolean {
  const source = (part.source ?? {}) as { type?: unknown };
  const citations = (part.citations ?? {}) as { enabled?: unknown };
  return (source.type === 'text' || source.type === 'content') && citations.enabled !== true;
}
