// The bandwidth estimate carried from one video to the next and across sessions, so each new
// video starts at a sensible rung instead of hls.js's fixed 500 kb/s guess.
import { storage } from "./dom.js";

const KEY = "reelkit:bandwidth";
/** Used when nothing was measured yet (hls.js's own default is 500 kb/s). */
export const DEFAULT_ESTIMATE_BPS = 2_000_000;
/** Estimates older than this are ignored: the viewer may be on another network now. */
const MAX_AGE_MS = 24 * 60 * 60 * 1000;

let current: number | undefined;

/** The best known estimate in bits per second. */
export function bandwidthEstimate(): number {
  if (current !== undefined) return current;
  const saved = storage()?.getItem(KEY);
  if (saved) {
    const [bps, at] = saved.split(":").map(Number);
    if (bps !== undefined && at !== undefined && bps > 0 && Date.now() - at < MAX_AGE_MS) {
      current = bps;
      return bps;
    }
  }
  return DEFAULT_ESTIMATE_BPS;
}

/** Whether an estimate was measured (in this page or a recent session), rather than the default. */
export function hasMeasuredBandwidth(): boolean {
  return bandwidthEstimate() !== DEFAULT_ESTIMATE_BPS || current !== undefined;
}

/** Record a measured estimate (bits per second); ignored when not a positive finite number. */
export function recordBandwidth(bps: number): void {
  if (!Number.isFinite(bps) || bps <= 0) return;
  current = Math.round(bps);
  try {
    storage()?.setItem(KEY, `${current}:${Date.now()}`);
  } catch {}
}

/** Forget the estimate (tests, or a "reset" control). */
export function resetBandwidth(): void {
  current = undefined;
  try {
    storage()?.removeItem(KEY);
  } catch {}
}
