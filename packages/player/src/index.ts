import { hasDom } from "./dom.js";
import { ReelFeedElement } from "./feed.js";
import { ReelPlayerElement } from "./player.js";

export { bandwidthEstimate, DEFAULT_ESTIMATE_BPS, recordBandwidth, resetBandwidth } from "./bandwidth.js";
export { isPlayerError, PlayerError, PlayerErrorCode } from "./errors.js";
export {
  type ChangeDetail,
  type FeedErrorDetail,
  type FeedItem,
  type FeedPage,
  type LikeDetail,
  parseFeedPage,
  type QoeDetail,
  ReelFeedElement,
  type ReelFeedEventMap,
} from "./feed.js";
export { type HlsConstructor, hlsInstances, loadHls, useHls } from "./hls.js";
export {
  type EndedDetail,
  type FirstFrameDetail,
  type PlayerErrorDetail,
  type Qoe,
  type QualityChangeDetail,
  ReelPlayerElement,
  type ReelPlayerEventMap,
  type StallDetail,
} from "./player.js";
export {
  Telemetry,
  type TelemetryEvent,
  type TelemetryEventType,
  type TelemetryOptions,
  type TrackedEvent,
  tabSessionId,
} from "./telemetry.js";

/**
 * Register `<reel-player>` and `<reel-feed>` (once; a no-op during server rendering or when the
 * names are taken). Returns whether the elements are defined afterwards.
 */
export function defineReelElements(): boolean {
  if (!hasDom()) return false;
  if (!customElements.get("reel-player")) customElements.define("reel-player", ReelPlayerElement);
  if (!customElements.get("reel-feed")) customElements.define("reel-feed", ReelFeedElement);
  return true;
}

declare global {
  interface HTMLElementTagNameMap {
    "reel-player": ReelPlayerElement;
    "reel-feed": ReelFeedElement;
  }
}
