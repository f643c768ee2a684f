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
 * Gemini's is its own (`GEMINI_IMAGE_RULE`): Gemini 3 bills a fixed count per image whatever
 * its size — 280 / 560 / 1,120 / 2,240 by media resolution (1,120 by default; `detail` sets it
 * on Vertex's OpenAI-compatible endpoint) — and Gemini 2.x 258 a 768-px tile after fitting the
 * image into 3072×3072 (16 tiles, 4,128, at most); gpt-4o's rule held a 100×100 image at 255 (85
 * with `detail: "low"`, which Gemini 2.x ignores) and a 3072×3072 one at 765.
 * Operators override a model's rule with `models.<id>.imageTokens`.
 */

/**
 * `fit`/`tileSize`/`perTile`/`least`: Gemini's (not configurable): the image fit into
 * `fit`×`fit`, then `perTile` per `tileSize`-px tile, never below `least` (module header).
 */
export type ImageRule =
  | { base: number; tile: number }
  | { multiplier: number; maxPatches: number }
  | { fit: number; tileSize: number; perTile: number; least: number };
export interface ImageSize {
  width: number;
  height: number;
}

/** Gemini (module header): 2.x's 768-px tiles of 258 after a 3072-px fit, at least Gemini 3's ultra-high 2,240. */
export const GEMINI_IMAGE_RULE: ImageRule = { fit: 3_072, tileSize: 768, perTile: 258, least: 2_240 };

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
  // Any name holding `gemini` (`gemini-2.5-flash`, Vertex's `google/gemini-…`, OpenRouter's).
  [/gemini/, GEMINI_IMAGE_RULE],
];

/** The rule for a model: its configured one, else the known rate for its name, else gpt-4o's. */
export function imageRuleFor(model: string, configured?: ImageRule): ImageRule {
  return configured ?? KNOWN.find(([name]) => name.test(model))?.[1] ?? DEFAULT_IMAGE_RULE;
}

/** Tokens of one image under a rule; `size` undefined = unknown (the rule's maximum). */
export function ruleImageTokens(rule: ImageRule, size: ImageSize | undefined, low: boolean): number {
  const known = size !== undefined && size.width > 0 && size.height > 0;
  if ('perTile' in rule) {
    // Unknown: the most tiles a fitted image has. `detail` does not lower it (Gemini 2.x ignores it).
    if (!known) return Math.max(rule.least, rule.perTile * Math.ceil(rule.fit / rule.tileSize) ** 2);
    const fit = Math.min(1, rule.fit / Math.max(size.width, size.height));
    const tiles = Math.ceil((size.width * fit) / rule.tileSize) * Math.ceil((size.height * fit) / rule.tileSize);
    return Math.max(rule.least, rule.perTile * tiles);
  }
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
