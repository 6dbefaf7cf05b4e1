// hls.js is a peer dependency loaded on first use (dynamic import), so importing this package
// costs nothing until a stream plays, and stays safe during server rendering. Apps that load
// hls.js another way (a CDN script) hand the constructor over with `useHls`.
import type HlsType from "hls.js";

export type HlsConstructor = typeof HlsType;

let provided: HlsConstructor | undefined;
let loading: Promise<HlsConstructor> | undefined;

/** Use this hls.js constructor instead of importing the `hls.js` package. */
export function useHls(Hls: HlsConstructor): void {
  provided = Hls;
  loading = Promise.resolve(Hls);
}

/** The hls.js constructor, imported once. */
export function loadHls(): Promise<HlsConstructor> {
  loading ??= provided
    ? Promise.resolve(provided)
    : import("hls.js").then((module) => (module as { default: HlsConstructor }).default);
  return loading;
}

/** Live hls.js instances created by players (each `<reel-player>` has at most one). */
export const hlsInstances = { live: 0, created: 0 };
