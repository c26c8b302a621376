// Rewrites for masks are computed once per (query text, search path, masks, catalog snapshots):
// a statement run again, or a Parse followed by its Executes, reuses the checked rewrite.

import { rewriteForMasks, type RewriteRequest, type RewriteResult } from './mask-rewrite.ts';

const CAPACITY = 1024;
const cache = new Map<string, RewriteResult>();

function keyOf(req: RewriteRequest): string {
  const masks = req.masks.map((ms) => ms.map((m) => `${m.table}.${m.column}:${m.strategy}`).sort().join(',')).join(';');
  const detections = (req.detections ?? []).map((ds) => ds.map((d) => `${d.table}.${d.column}:${d.detectors.join('+')}`).sort().join(',')).join(';');
  return [req.searchPath.join(','), req.relations?.version ?? 'none', req.routines?.loadedAt ?? 'none', masks, detections, req.text].join('\u0000');
}

/** rewriteForMasks, cached; refusals caused by a missing snapshot are not kept. */
export function rewriteForMasksCached(req: RewriteRequest): RewriteResult {
  const key = keyOf(req);
  const hit = cache.get(key);
  if (hit) return hit;
  const result = rewriteForMasks(req);
  if (req.relations !== null && req.routines !== null) {
    if (cache.size >= CAPACITY) cache.clear();
    cache.set(key, result);
  }
  return result;
}
