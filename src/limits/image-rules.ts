/**
 * What an input image costs in prompt tokens, per model — pure. OpenAI prices images by
 * one of two rules, at rates that differ by model (its vision guide, "Calculating costs"):
 *
 * - **tile** (gpt-4o, gpt-4.1, o1/o3, gpt-4o-mini …): fit into 2048×2048, scale the short
 *   side down to 768, then `base` + `tile` × 512-px tiles; `detail: "low"` is `base` alone.
 *   gpt-4o: 85 + 170. gpt-4o-mini bills the same tiles at ~33.3× (2,833 + 5,667): a
 *   reservation at gpt-4o's rate would undercount its images 33×.
 * - **patch** (gpt-4.1-mini/nano, o4-mini, gpt-5 family): 32-px patches covering the image,
 *   at most `maxPatches` (the image is scaled down past that), × `multiplier`; `detail`
 *   does not lower it.
 *
 * The figure is an upper bound of OpenAI's: the patch count before any down-scaling, capped,
 * is never below the count after it. An image of unknown size costs the rule's maximum.
 * Claude's rule (Anthropic: pixels / 750, at most ~1,600) is written as a patch rule.
 * Operators override a model's rule with `models.<id>.imageTokens`.
 */

export type ImageRule = { base: number; tile: number } | { multiplier: number; maxPatches: number };
export interface ImageSize {
  width: number;
  height: number;
}

/** gpt-4o's tile rule: the default for models the table below does not name. */
export const DEFAULT_IMAGE_RULE: ImageRule = { base: 85, tile: 170 };

/**
 * Known rates by model name (first match wins; dated snapshots match their family). Where
 * OpenAI's documentation and observed billing disagree (gpt-5-mini/nano), the higher figure.
 */
const KNOWN: [RegExp, ImageRule][] = [
  [/^gpt-4o-mini/, { base: 2_833, tile: 5_667 }],
  [/^gpt-4\.1-mini/, { multiplier: 1.62, maxPatches: 1_536 }],
  [/^gpt-4\.1-nano/, { multiplier: 2.46, maxPatches: 1_536 }],
  [/^(o4-mini|codex-mini)/, { multiplier: 1.72, maxPatches: 1_536 }],
  [/^gpt-5(\.\d+)?-mini/, { multiplier: 1.62, maxPatches: 1_536 }],
  [/^gpt-5(\.\d+)?-nano/, { multiplier: 2.46, maxPatches: 1_536 }],
  // Larger gpt-5 models take up to 2,500 patches at high detail, billed at 1.2×.
  [/^gpt-5/, { multiplier: 1.2, maxPatches: 2_500 }],
  [/^(o1|o3)/, { base: 75, tile: 150 }],
  [/^computer-use/, { base: 65, tile: 129 }],
  // Claude (Anthropic's vision guide): width × height / 750 tokens, the image scaled down past
  // ~1,600 tokens (long edge 1,568 px, ~1.15 MP). As 32-px patches (1,024 px) at 1024/750,
  // rounded up: never below Anthropic's figure, at most 1,606. Any name holding `claude`
  // (Anthropic's ids, Bedrock's `anthropic.claude-…`, Vertex's `claude-…@…`).
  [/claude/, { multiplier: 1.37, maxPatches: 1_172 }],
];

/** The rule for a model: its configured one, else the known rate for its name, else gpt-4o's. */
export function imageRuleFor(model: string, configured?: ImageRule): ImageRule {
  return configured ?? KNOWN.find(([name]) => name.test(model))?.[1] ?? DEFAULT_IMAGE_RULE;
}

/** Tokens of one image under a rule; `size` undefined = unknown (the rule's maximum). */
export function ruleImageTokens(rule: ImageRule, size: ImageSize | undefined, low: boolean): number {
  const known = size !== undefined && size.width > 0 && size.height > 0;
  if ('multiplier' in rule) {
    const patches = known ? Math.ceil(size.width / 32) * Math.ceil(size.height / 32) : rule.maxPatches;
    return Math.ceil(Math.min(patches, rule.maxPatches) * rule.multiplier);
  }
  if (low) return rule.base;
  if (!known) return rule.base + rule.tile * 8; // 768×2048 after scaling: 2×4 tiles, the most there can be
  let w = size.width;
  let h = size.height;
  const fit = Math.min(1, 2048 / Math.max(w, h));
  w *= fit;
  h *= fit;
  const shrink = Math.min(1, 768 / Math.min(w, h));
  w *= shrink;
  h *= shrink;
  return rule.base + rule.tile * Math.ceil(w / 512) * Math.ceil(h / 512);
}
