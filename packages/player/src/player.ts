// <reel-player>: one <video> playing one HLS stream through hls.js (native HLS where the browser
// has it and hls.js cannot run), tuned for short clips: a small forward buffer, a start rung
// chosen from the bandwidth estimate carried across videos, quality capped to the element size,
// recovery from media and network errors, typed events and QoE counters.
import type HlsType from "hls.js";
import { bandwidthEstimate, hasMeasuredBandwidth, recordBandwidth } from "./bandwidth.js";
import { ElementBase, emit } from "./dom.js";
import { PlayerErrorCode } from "./errors.js";
import { hlsInstances, loadHls } from "./hls.js";
import { preparedStartLevel, takePrefetched } from "./prefetch.js";

/** Seconds buffered ahead while a video plays (hls.js's default is 30, sized for long-form). */
const ACTIVE_BUFFER_S = 12;
/** Seconds buffered by a preloading (not yet playing) player: its first segment. */
const PRELOAD_BUFFER_S = 1;
/** Fatal network errors retried (with 1 s, 2 s pauses) before the error is final. */
const NETWORK_RETRIES = 2;

/** `reel-first-frame`: the first frame after a play request was presented. */
export interface FirstFrameDetail {
  /** From the play request (`play()` or `active = true`) to the first frame's presentation time (rVFC). */
  ttffMs: number;
  /** The frame's presentation time on the page's `performance.now()` clock. */
  presentedAt: number;
  src: string;
}
/** `reel-stall`: playback waited for data, then resumed. */
export interface StallDetail {
  durationMs: number;
}
/** `reel-quality-change`: the playing rendition changed. */
export interface QualityChangeDetail {
  level: number;
  width: number | undefined;
  height: number | undefined;
  bitrate: number;
}
/** `reel-error`: `fatal` errors stop this video (the element shows its error state). */
export interface PlayerErrorDetail {
  code: PlayerErrorCode;
  message: string;
  fatal: boolean;
  src: string;
}
/** `reel-ended` (not fired while looping) and `reel-loop` (each time a looping video restarts). */
export interface EndedDetail {
  src: string;
}

/** Quality-of-experience counters of the current source. */
export interface Qoe {
  /** Time to first frame of the last play request, once known. */
  ttffMs: number | undefined;
  rebufferCount: number;
  rebufferMs: number;
  /** Rendition changes after the first one. */
  bitrateSwitches: number;
  errors: number;
  engine: "hls.js" | "native" | undefined;
}

export interface ReelPlayerEventMap {
  "reel-first-frame": CustomEvent<FirstFrameDetail>;
  "reel-stall": CustomEvent<StallDetail>;
  "reel-quality-change": CustomEvent<QualityChangeDetail>;
  "reel-ended": CustomEvent<EndedDetail>;
  "reel-loop": CustomEvent<EndedDetail>;
  "reel-error": CustomEvent<PlayerErrorDetail>;
}

interface LoadStatsLike {
  aborted: boolean;
  loaded: number;
  total: number;
  loading: { start: number; first: number; end: number };
}
interface LoaderContextLike {
  url: string;
  responseType: string;
  rangeStart?: number;
  rangeEnd?: number;
}
interface LoaderCallbacksLike {
  onSuccess(
    response: { url: string; data: string | ArrayBuffer; code: number },
    stats: LoadStatsLike,
    context: LoaderContextLike,
    networkDetails: unknown,
  ): void;
}
interface LoaderLike {
  context: unknown;
  stats: LoadStatsLike;
  load(context: LoaderContextLike, config: unknown, callbacks: LoaderCallbacksLike): void;
}
type LoaderClass = new (config: unknown) => LoaderLike;

/** hls.js's loader, answering from the prefetch cache first (with the prefetch's real timings). */
function withPrefetch(Base: LoaderClass): LoaderClass {
  return class PrefetchLoader extends Base {
    override load(context: LoaderContextLike, config: unknown, callbacks: LoaderCallbacksLike): void {
      // hls.js marks a whole file with rangeStart = rangeEnd = 0.
      const ranged = (context.rangeStart ?? 0) > 0 || (context.rangeEnd ?? 0) > 0;
      const hit = ranged ? undefined : takePrefetched(context.url, context.responseType);
      if (hit === undefined) {
        super.load(context, config, callbacks);
        return;
      }
      this.context = context;
      hit.then(
        (fetched) => {
          const stats = this.stats;
          if (stats.aborted) return;
          stats.loading.start = fetched.start;
          stats.loading.first = fetched.first;
          stats.loading.end = fetched.end;
          stats.loaded = fetched.bytes;
          stats.total = fetched.bytes;
          callbacks.onSuccess({ url: context.url, data: fetched.data, code: 200 }, stats, context, null);
        },
        () => {
          if (!this.stats.aborted) super.load(context, config, callbacks);
        },
      );
    }
  };
}

const emptyQoe = (): Qoe => ({
  ttffMs: undefined,
  rebufferCount: 0,
  rebufferMs: 0,
  bitrateSwitches: 0,
  errors: 0,
  engine: undefined,
});

const STYLE = `:host{display:block;position:relative;overflow:hidden;background:#000;contain:content}
video,[part=poster]{display:block;width:100%;height:100%;object-fit:var(--reel-object-fit,cover)}
[part=poster]{position:absolute;inset:0;pointer-events:none}
[part=poster]:not([src]),:host([data-shown]) [part=poster]{display:none}
:host(:not([data-active])) video{visibility:hidden}
[part=error]{position:absolute;inset:0;display:none;place-items:center;padding:1em;color:#fff;font:15px/1.4 system-ui,sans-serif;text-align:center;background:#000c}
:host([data-state=error]) [part=error]{display:grid}`;

/**
 * `<reel-player src="…m3u8" poster muted loop preload="auto" captions label="…">`. Properties
 * mirror the attributes; `active` (or `play()`) lets it play and buffer fully; `load()`
 * preloads the playlist and first segment without playing.
 */
export class ReelPlayerElement extends ElementBase {
  static observedAttributes = ["src", "poster", "muted", "loop", "preload", "captions", "label", "controls"];

  #video: HTMLVideoElement | undefined;
  #errorBox: HTMLElement | undefined;
  #posterImage: HTMLImageElement | undefined;
  #hls: HlsType | undefined;
  /** Bumped whenever the source changes: late async work for an old source is dropped. */
  #generation = 0;
  #loaded = false;
  #active = false;
  #playRequestedAt: number | undefined;
  #stallStart: number | undefined;
  #lastTime = 0;
  #levelSeen = false;
  #networkRetries = 0;
  #mediaRecoveries = 0;
  #qoe: Qoe = emptyQoe();

  /** The `<video>` element inside the shadow root (created on first use). */
  get video(): HTMLVideoElement | undefined {
    if (this.#video === undefined && typeof document !== "undefined") this.#render();
    return this.#video;
  }
  get src(): string {
    return this.getAttribute("src") ?? "";
  }
  set src(value: string) {
    this.setAttribute("src", value);
  }
  get poster(): string {
    return this.getAttribute("poster") ?? "";
  }
  set poster(value: string) {
    this.setAttribute("poster", value);
  }
  get muted(): boolean {
    return this.hasAttribute("muted");
  }
  set muted(value: boolean) {
    this.toggleAttribute("muted", value);
  }
  get loop(): boolean {
    return this.hasAttribute("loop");
  }
  set loop(value: boolean) {
    this.toggleAttribute("loop", value);
  }
  get captions(): boolean {
    return this.hasAttribute("captions");
  }
  set captions(value: boolean) {
    this.toggleAttribute("captions", value);
  }
  /** `none` (nothing until played), `metadata`, or `auto` (playlist and first segment). @default "metadata" */
  get preload(): "none" | "metadata" | "auto" {
    const value = this.getAttribute("preload");
    return value === "none" || value === "auto" ? value : "metadata";
  }
  set preload(value: "none" | "metadata" | "auto") {
    this.setAttribute("preload", value);
  }
  /** Whether this player is the one on screen: it may play and buffer fully. */
  get active(): boolean {
    return this.#active;
  }
  set active(value: boolean) {
    if (value) void this.play();
    else this.deactivate();
  }
  /** QoE counters of the current source. */
  get qoe(): Readonly<Qoe> {
    return { ...this.#qoe };
  }
  /** `loading`, `ready`, `playing`, `error` or `idle`. */
  get state(): string {
    return this.dataset.state ?? "idle";
  }

  connectedCallback(): void {
    this.#render();
    if (this.src && (this.preload !== "none" || this.#active)) void this.load();
  }

  disconnectedCallback(): void {
    this.#teardown();
  }

  attributeChangedCallback(name: string, previous: string | null, value: string | null): void {
    const video = this.#video;
    if (video === undefined || previous === value) return;
    switch (name) {
      case "src":
        this.#teardown();
        if (value && (this.preload !== "none" || this.#active)) void this.load();
        if (this.#active && value) void this.play();
        break;
      case "poster":
        if (value) this.#posterImage?.setAttribute("src", value);
        else this.#posterImage?.removeAttribute("src");
        break;
      case "muted":
        video.muted = value !== null;
        break;
      case "loop":
        video.loop = value !== null;
        break;
      case "captions":
        this.#applyCaptions();
        break;
      case "label":
        if (value) video.setAttribute("aria-label", value);
        else video.removeAttribute("aria-label");
        break;
      case "controls":
        video.controls = value !== null;
        break;
    }
  }

  /** Start loading the source (playlist and first segment) without playing. */
  async load(): Promise<void> {
    this.#render();
    const video = this.#video;
    const src = this.src;
    if (video === undefined || src === "" || this.#loaded) return;
    this.#loaded = true;
    const generation = this.#generation;
    this.dataset.state = "loading";
    if (this.#preferNative(video)) {
      this.#qoe.engine = "native";
      video.preload = "auto";
      video.src = src;
      return;
    }
    let Hls: Awaited<ReturnType<typeof loadHls>>;
    try {
      Hls = await loadHls();
    } catch (cause) {
      if (generation === this.#generation) this.#fail(PlayerErrorCode.UNSUPPORTED, `hls.js failed to load: ${cause}`);
      return;
    }
    if (generation !== this.#generation) return;
    if (!Hls.isSupported()) {
      if (video.canPlayType("application/vnd.apple.mpegurl")) {
        this.#qoe.engine = "native";
        video.src = src;
      } else {
        this.#fail(PlayerErrorCode.UNSUPPORTED, "this browser has neither Media Source Extensions nor native HLS");
      }
      return;
    }
    const hls = new Hls({
      // A preloading player, or the first video of a viewer we know nothing about, starts on the
      // lowest rung (fastest to show); otherwise the rung the prefetch prepared, else hls.js's ABR.
      startLevel: !this.#active || !hasMeasuredBandwidth() ? 0 : (preparedStartLevel(src) ?? -1),
      loader: withPrefetch(
        Hls.DefaultConfig.loader as unknown as LoaderClass,
      ) as unknown as typeof Hls.DefaultConfig.loader,
      abrEwmaDefaultEstimate: bandwidthEstimate(),
      testBandwidth: false,
      capLevelToPlayerSize: true,
      // hls.js buffers up to max(maxBufferLength, what maxBufferSize allows at the level's bitrate),
      // capped by maxMaxBufferLength: setting both bounds the forward buffer exactly.
      maxBufferLength: this.#active ? ACTIVE_BUFFER_S : PRELOAD_BUFFER_S,
      maxMaxBufferLength: this.#active ? ACTIVE_BUFFER_S : PRELOAD_BUFFER_S,
      maxBufferSize: 30 * 1000 * 1000,
      backBufferLength: 4,
      enableWorker: false,
      startFragPrefetch: true,
    });
    this.#hls = hls;
    this.#qoe.engine = "hls.js";
    hlsInstances.live += 1;
    hlsInstances.created += 1;
    hls.on(Hls.Events.LEVEL_SWITCHED, (_event, data) => {
      const level = hls.levels[data.level];
      if (this.#levelSeen) this.#qoe.bitrateSwitches += 1;
      this.#levelSeen = true;
      emit<QualityChangeDetail>(this, "reel-quality-change", {
        level: data.level,
        width: level?.width,
        height: level?.height,
        bitrate: level?.bitrate ?? 0,
      });
    });
    hls.on(Hls.Events.FRAG_LOADED, () => recordBandwidth(hls.bandwidthEstimate));
    hls.on(Hls.Events.SUBTITLE_TRACKS_UPDATED, () => this.#applyCaptions());
    hls.on(Hls.Events.ERROR, (_event, data) => {
      if (!data.fatal || generation !== this.#generation) return;
      this.#qoe.errors += 1;
      if (data.type === Hls.ErrorTypes.MEDIA_ERROR && this.#mediaRecoveries < 2) {
        if (this.#mediaRecoveries === 1) hls.swapAudioCodec();
        this.#mediaRecoveries += 1;
        hls.recoverMediaError();
        this.#report(PlayerErrorCode.MEDIA_ERROR, `recovering from ${data.details}`, false);
        return;
      }
      const parsing =
        String(data.details).includes("Parsing") ||
        data.details === Hls.ErrorDetails.MANIFEST_INCOMPATIBLE_CODECS_ERROR;
      // hls.js already retried the manifest (its manifestLoadPolicy), and a 4xx answer will not
      // change on a retry; fragment and playlist timeouts or 5xx get a fresh start.
      const response = data.response as { code?: number } | undefined;
      const networkDetails = data.networkDetails as { status?: number } | undefined;
      const status = response?.code ?? networkDetails?.status ?? 0;
      const final =
        parsing ||
        (status >= 400 && status < 500) ||
        data.details === Hls.ErrorDetails.MANIFEST_LOAD_ERROR ||
        data.details === Hls.ErrorDetails.MANIFEST_LOAD_TIMEOUT;
      if (data.type === Hls.ErrorTypes.NETWORK_ERROR && !final && this.#networkRetries < NETWORK_RETRIES) {
        this.#networkRetries += 1;
        this.#report(PlayerErrorCode.NETWORK_ERROR, `retrying after ${data.details}`, false);
        setTimeout(() => {
          if (generation === this.#generation && this.#hls === hls) hls.startLoad();
        }, 1000 * this.#networkRetries);
        return;
      }
      const code = parsing
        ? PlayerErrorCode.MANIFEST_ERROR
        : data.type === Hls.ErrorTypes.MEDIA_ERROR
          ? PlayerErrorCode.MEDIA_ERROR
          : PlayerErrorCode.NETWORK_ERROR;
      this.#fail(code, String(data.details));
    });
    hls.subtitleDisplay = this.captions;
    hls.attachMedia(video);
    hls.loadSource(src);
  }

  /** Make this the playing player: buffer fully and play (muted autoplay falls back as browsers require). */
  async play(): Promise<void> {
    this.#render();
    const video = this.#video;
    if (video === undefined) return;
    // A source that failed gets one fresh attempt each time it is played again.
    if (this.dataset.state === "error") this.#teardown();
    this.#active = true;
    this.dataset.active = "";
    this.#playRequestedAt = performance.now();
    const generation = this.#generation;
    // A preloaded player keeps its hls.js instance; a larger buffer makes it load ahead again.
    if (this.#hls) this.#bufferAhead(ACTIVE_BUFFER_S);
    if (!this.#loaded) await this.load();
    this.#watchFirstFrame(generation);
    try {
      await video.play();
    } catch (error) {
      if (generation !== this.#generation || !this.#active) return;
      if ((error as DOMException).name === "NotAllowedError" && !video.muted) {
        // Sound needs a user gesture: play muted and let the viewer unmute.
        this.muted = true;
        video.muted = true;
        try {
          await video.play();
          return;
        } catch {}
      }
      if ((error as DOMException).name === "NotAllowedError")
        this.#report(PlayerErrorCode.AUTOPLAY_BLOCKED, "the browser refused to start playback", false);
    }
  }

  /** Pause and fall back to a small buffer; the source stays loaded for a swipe back. */
  deactivate(): void {
    this.#active = false;
    delete this.dataset.active;
    delete this.dataset.shown;
    this.#video?.pause();
    this.#endStall();
    if (this.#hls) this.#bufferAhead(PRELOAD_BUFFER_S);
  }

  pause(): void {
    this.#video?.pause();
  }

  /** Drop the source (hls.js destroyed, media buffers released); `load()` or `play()` starts over. */
  unload(): void {
    this.#teardown();
  }

  #bufferAhead(seconds: number): void {
    if (this.#hls === undefined) return;
    this.#hls.config.maxBufferLength = seconds;
    this.#hls.config.maxMaxBufferLength = seconds;
  }

  #preferNative(video: HTMLVideoElement): boolean {
    if (this.hasAttribute("native")) return video.canPlayType("application/vnd.apple.mpegurl") !== "";
    // Safari (macOS and iOS) plays HLS natively and better than MSE-based players.
    return (
      typeof navigator !== "undefined" &&
      /Apple/.test(navigator.vendor) &&
      video.canPlayType("application/vnd.apple.mpegurl") !== ""
    );
  }

  #render(): void {
    if (this.#video !== undefined) return;
    const root = this.shadowRoot ?? this.attachShadow({ mode: "open" });
    const style = document.createElement("style");
    style.textContent = STYLE;
    const video = document.createElement("video");
    video.setAttribute("part", "video");
    video.playsInline = true;
    video.preload = "auto";
    video.muted = this.muted;
    video.loop = this.loop;
    video.controls = this.hasAttribute("controls");
    const crossOrigin = this.getAttribute("crossorigin");
    if (crossOrigin !== null) video.crossOrigin = crossOrigin;
    // The poster is an image over the video rather than video.poster: an inactive (preloading)
    // player keeps its video hidden, so the first frame it presents is the one after play().
    const posterImage = document.createElement("img");
    posterImage.setAttribute("part", "poster");
    posterImage.alt = "";
    posterImage.decoding = "async";
    if (this.poster) posterImage.src = this.poster;
    this.#posterImage = posterImage;
    const label = this.getAttribute("label");
    if (label) video.setAttribute("aria-label", label);
    const errorBox = document.createElement("div");
    errorBox.setAttribute("part", "error");
    errorBox.setAttribute("role", "alert");
    root.append(style, video, posterImage, errorBox);
    this.#video = video;
    this.#errorBox = errorBox;
    video.addEventListener("loadeddata", () => {
      if (this.dataset.state === "loading") this.dataset.state = "ready";
    });
    video.addEventListener("playing", () => {
      this.dataset.state = "playing";
      this.#endStall();
    });
    video.addEventListener("pause", () => {
      if (this.dataset.state === "playing") this.dataset.state = "paused";
    });
    video.addEventListener("waiting", () => {
      if (this.#active && this.#qoe.ttffMs !== undefined) this.#stallStart ??= performance.now();
    });
    video.addEventListener("timeupdate", () => {
      const time = video.currentTime;
      if (time > this.#lastTime) this.#endStall();
      // A looping video jumps back to the start: one loop done.
      if (video.loop && time + 0.5 < this.#lastTime && this.#lastTime > video.duration - 1.5)
        emit<EndedDetail>(this, "reel-loop", { src: this.src });
      this.#lastTime = time;
    });
    video.addEventListener("ended", () => emit<EndedDetail>(this, "reel-ended", { src: this.src }));
    video.addEventListener("error", () => {
      if (this.#qoe.engine !== "native") return;
      const code = video.error?.code === 2 ? PlayerErrorCode.NETWORK_ERROR : PlayerErrorCode.MEDIA_ERROR;
      this.#qoe.errors += 1;
      this.#fail(code, video.error?.message || "the video could not be played");
    });
  }

  #watchFirstFrame(generation: number): void {
    const video = this.#video;
    if (video === undefined) return;
    const done = (presentedAt = performance.now()) => {
      const at = this.#playRequestedAt;
      if (generation !== this.#generation || at === undefined || !this.#active) return;
      this.#playRequestedAt = undefined;
      this.dataset.shown = "";
      const ttffMs = Math.round(presentedAt - at);
      this.#qoe.ttffMs = ttffMs;
      emit<FirstFrameDetail>(this, "reel-first-frame", { ttffMs, presentedAt, src: this.src });
    };
    // presentationTime: when the frame was handed to the compositor (the callback runs later).
    if (typeof video.requestVideoFrameCallback === "function")
      video.requestVideoFrameCallback((_now, frame) => done(frame.presentationTime));
    else video.addEventListener("playing", () => done(), { once: true });
  }

  #endStall(): void {
    if (this.#stallStart === undefined) return;
    const durationMs = Math.round(performance.now() - this.#stallStart);
    this.#stallStart = undefined;
    this.#qoe.rebufferCount += 1;
    this.#qoe.rebufferMs += durationMs;
    emit<StallDetail>(this, "reel-stall", { durationMs });
  }

  #applyCaptions(): void {
    const show = this.captions;
    if (this.#hls) {
      this.#hls.subtitleDisplay = show;
      if (show && this.#hls.subtitleTrack < 0 && this.#hls.subtitleTracks.length > 0) this.#hls.subtitleTrack = 0;
    }
    const tracks = this.#video?.textTracks;
    if (tracks === undefined) return;
    for (let i = 0; i < tracks.length; i++) {
      const track = tracks[i];
      if (track && (track.kind === "subtitles" || track.kind === "captions"))
        track.mode = show && i === 0 ? "showing" : "hidden";
    }
  }

  #report(code: PlayerErrorCode, message: string, fatal: boolean): void {
    emit<PlayerErrorDetail>(this, "reel-error", { code, message, fatal, src: this.src });
  }

  #fail(code: PlayerErrorCode, message: string): void {
    this.#destroyHls();
    this.dataset.state = "error";
    if (this.#errorBox) this.#errorBox.textContent = this.getAttribute("error-text") ?? "This video can’t be played.";
    this.#report(code, message, true);
  }

  #destroyHls(): void {
    if (this.#hls === undefined) return;
    this.#hls.destroy();
    this.#hls = undefined;
    hlsInstances.live -= 1;
  }

  #teardown(): void {
    this.#generation += 1;
    this.#destroyHls();
    this.#loaded = false;
    this.#stallStart = undefined;
    this.#lastTime = 0;
    this.#levelSeen = false;
    this.#networkRetries = 0;
    this.#mediaRecoveries = 0;
    this.#qoe = emptyQoe();
    this.#playRequestedAt = undefined;
    delete this.dataset.state;
    delete this.dataset.shown;
    const video = this.#video;
    if (video !== undefined && (video.getAttribute("src") || video.src)) {
      video.pause();
      video.removeAttribute("src");
      video.load(); // releases the media buffers
    }
    if (this.#errorBox) this.#errorBox.textContent = "";
  }
}
