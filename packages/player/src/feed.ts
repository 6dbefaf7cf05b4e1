// <reel-feed>: a vertical swipe feed over a JSON endpoint. Three recycled <reel-player>s hold the
// previous, current and next item, so the DOM stays the same size however long the feed; the
// next item's playlist and first segment load while the current one plays.
import { ElementBase, emit, prefersReducedMotion } from "./dom.js";
import { PlayerErrorCode } from "./errors.js";
import { loadHls } from "./hls.js";
import type { PlayerErrorDetail, Qoe, ReelPlayerElement } from "./player.js";
import { warmStream } from "./prefetch.js";
import { Telemetry, type TelemetryEventType } from "./telemetry.js";

/** One feed entry as the endpoint sends it; fields beyond these are kept and passed through. */
export interface FeedItem {
  id: string;
  /** HLS master playlist URL. */
  src: string;
  poster?: string | undefined;
  creatorId?: string | undefined;
  /** Spoken by screen readers when the item is shown. */
  title?: string | undefined;
  [key: string]: unknown;
}

/** `GET <src>?cursor=<c>` answers one page; `cursor: null` marks the end. */
export interface FeedPage {
  items: FeedItem[];
  cursor: string | null;
}

export interface ChangeDetail {
  index: number;
  item: FeedItem;
}
export interface LikeDetail {
  item: FeedItem;
  liked: boolean;
}
export interface QoeDetail {
  item: FeedItem;
  qoe: Qoe;
}
export interface FeedErrorDetail {
  code: PlayerErrorCode;
  message: string;
}

export interface ReelFeedEventMap {
  "reel-change": CustomEvent<ChangeDetail>;
  "reel-like": CustomEvent<LikeDetail>;
  "reel-qoe": CustomEvent<QoeDetail>;
  "reel-feed-error": CustomEvent<FeedErrorDetail>;
}

/** Watch time reported in a `watch` event at least this often while a video plays. */
const WATCH_EVERY_MS = 10_000;
/** A tap shorter than this, moving less than TAP_SLOP px, is a tap; two within DOUBLE_TAP_MS a double tap. */
const TAP_MS = 300;
const TAP_SLOP = 10;
const DOUBLE_TAP_MS = 280;
const SLOTS = 3;

const STYLE = `:host{display:block;position:relative;height:100%;overflow:hidden;background:#000;color:#fff;font:15px/1.4 system-ui,sans-serif}
[part=viewport]{position:absolute;inset:0;touch-action:none;outline:none;user-select:none}
[part=viewport]:focus-visible{box-shadow:inset 0 0 0 3px #8cf}
[part=slot]{position:absolute;inset:0;transition:transform .25s ease-out;will-change:transform}
:host([data-dragging]) [part=slot],:host([data-reduced-motion]) [part=slot]{transition:none}
reel-player{width:100%;height:100%}
[part=unmute]{position:absolute;top:12px;right:12px;padding:6px 12px;border:0;border-radius:16px;background:#0008;color:#fff;font:inherit;cursor:pointer}
:host([data-unmuted]) [part=unmute]{display:none}
[part=heart]{position:absolute;left:50%;top:50%;font-size:96px;transform:translate(-50%,-50%) scale(0);opacity:0;pointer-events:none}
[part=heart][data-on]{animation:reel-heart .7s ease-out}
:host([data-reduced-motion]) [part=heart][data-on]{animation:none}
@keyframes reel-heart{30%{transform:translate(-50%,-50%) scale(1.1);opacity:1}100%{transform:translate(-50%,-50%) scale(1);opacity:0}}
[part=status]{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
[part=empty]{position:absolute;inset:0;display:none;place-items:center}
:host([data-empty]) [part=empty]{display:grid}`;

interface Slot {
  root: HTMLElement;
  player: ReelPlayerElement;
  heart: HTMLElement;
  /** The item index this slot shows, or -1. */
  index: number;
}

/** What the current item's viewer has done so far (telemetry state). */
interface Watching {
  item: FeedItem;
  /** Watch time not yet reported. */
  unreportedMs: number;
  lastTime: number;
  completed: boolean;
  viewed: boolean;
}

/** Validate one page from the endpoint; invalid items are dropped (and counted), a bad shape throws. */
export function parseFeedPage(body: unknown): { page: FeedPage; dropped: number } {
  if (typeof body !== "object" || body === null || !Array.isArray((body as FeedPage).items))
    throw new TypeError("a feed page must be an object with an items array");
  const cursor = (body as FeedPage).cursor;
  if (cursor !== null && typeof cursor !== "string") throw new TypeError("cursor must be a string or null");
  const items: FeedItem[] = [];
  let dropped = 0;
  for (const raw of (body as FeedPage).items as unknown[]) {
    const item = raw as FeedItem;
    const ok =
      typeof item === "object" &&
      item !== null &&
      typeof item.id === "string" &&
      item.id !== "" &&
      typeof item.src === "string" &&
      item.src !== "" &&
      (item.poster === undefined || typeof item.poster === "string") &&
      (item.creatorId === undefined || typeof item.creatorId === "string");
    if (ok) items.push(item);
    else dropped += 1;
  }
  return { page: { items, cursor }, dropped };
}

/**
 * `<reel-feed src="/feed" events="/events" user-id="…">`: pages through `src`, plays one item at a
 * time (touch swipe, wheel, arrow keys), tap to unmute, double tap to like, and reports
 * engagement telemetry to `events`.
 */
export class ReelFeedElement extends ElementBase {
  static observedAttributes = ["src", "events", "user-id"];

  /** Extra headers for the feed and telemetry requests (e.g. `Authorization`). */
  headers: Record<string, string> = {};

  #items: FeedItem[] = [];
  #ids = new Set<string>();
  #cursor: string | null | undefined;
  #loading: Promise<void> | undefined;
  #index = -1;
  #slots: Slot[] = [];
  #viewport: HTMLElement | undefined;
  #status: HTMLElement | undefined;
  #unmuted = false;
  #liked = new Set<string>();
  #telemetry: Telemetry | undefined;
  #watching: Watching | undefined;
  #broken = new Set<string>();
  #skipTimer: ReturnType<typeof setTimeout> | undefined;
  #tapTimer: ReturnType<typeof setTimeout> | undefined;
  #lastTapAt = 0;
  #wheel = { sum: 0, lockedUntil: 0, idle: undefined as ReturnType<typeof setTimeout> | undefined };
  #drag: { id: number; y: number; x: number; at: number; moved: boolean } | undefined;
  #generation = 0;
  /** Bumped by every goTo: deferred work of an earlier move is dropped. */
  #moves = 0;

  /** Items loaded so far. */
  get items(): readonly FeedItem[] {
    return this.#items;
  }
  /** Index of the item on screen (-1 before the first page arrives). */
  get index(): number {
    return this.#index;
  }
  get current(): FeedItem | undefined {
    return this.#items[this.#index];
  }
  /** The telemetry sender (when `events` is set). */
  get telemetry(): Telemetry | undefined {
    return this.#telemetry;
  }
  get src(): string {
    return this.getAttribute("src") ?? "";
  }
  set src(value: string) {
    this.setAttribute("src", value);
  }

  connectedCallback(): void {
    this.#render();
    this.#setupTelemetry();
    // Start downloading hls.js now, in parallel with the first feed page.
    loadHls().catch(() => {});
    if (this.src && this.#index < 0) void this.refresh();
  }

  disconnectedCallback(): void {
    this.#leave();
    void this.#telemetry?.close();
    this.#telemetry = undefined;
    for (const slot of this.#slots) slot.player.unload();
  }

  attributeChangedCallback(name: string, previous: string | null, value: string | null): void {
    if (previous === value || this.#viewport === undefined) return;
    if (name === "src") void this.refresh();
    else if (name === "events") {
      void this.#telemetry?.close();
      this.#telemetry = undefined;
      this.#setupTelemetry();
    } else if (name === "user-id" && this.#telemetry) this.#telemetry.userId = value ?? undefined;
  }

  /** Start over from the first page. */
  async refresh(): Promise<void> {
    this.#leave();
    this.#generation += 1;
    this.#items = [];
    this.#ids.clear();
    this.#cursor = undefined;
    this.#loading = undefined;
    this.#index = -1;
    for (const slot of this.#slots) {
      slot.index = -1;
      slot.player.unload();
      slot.player.removeAttribute("src");
    }
    const inline = this.#inlinePage();
    let added = false;
    if (inline !== undefined) {
      try {
        this.#addPage(inline);
        added = true;
      } catch (error) {
        this.#feedError(`the inline first page was refused: ${(error as Error).message}`);
      }
    }
    if (!added) await this.#loadMore();
    const first = this.#items[0];
    // The first video's playlists and first segments load while hls.js may still be arriving.
    if (first) void warmStream(first.src, (this.clientHeight || 1280) * (globalThis.devicePixelRatio || 1));
    if (this.#items.length > 0) this.goTo(0);
    else this.dataset.empty = "";
  }

  next(): void {
    if (this.#index + 1 < this.#items.length) this.goTo(this.#index + 1);
    else void this.#loadMore().then(() => this.#index + 1 < this.#items.length && this.goTo(this.#index + 1));
  }

  previous(): void {
    if (this.#index > 0) this.goTo(this.#index - 1);
  }

  /** Show item `index` (clamped to the loaded items). */
  goTo(index: number): void {
    const target = Math.max(0, Math.min(index, this.#items.length - 1));
    const item = this.#items[target];
    if (item === undefined) return;
    if (target === this.#index) {
      this.#layout(0);
      return;
    }
    clearTimeout(this.#skipTimer);
    const previous = this.#slotOf(this.#index);
    const leaving = this.#watching;
    this.#watching = undefined;
    if (leaving) this.#sampleWatch(leaving, previous);
    this.#index = target;
    delete this.dataset.empty;
    // Start the new item first (it is usually preloaded: playing it is what the viewer waits
    // for); reporting the old one and recycling slots come after.
    this.#assign(target);
    const current = this.#slotOf(target);
    if (current) {
      current.player.muted = !this.#unmuted;
      void current.player.play();
      current.root.removeAttribute("aria-hidden");
      current.root.inert = false;
    }
    if (previous !== current) previous?.player.deactivate();
    if (leaving) this.#report(leaving, previous);
    this.#layout(0);
    for (const slot of this.#slots) {
      if (slot !== current) {
        slot.player.deactivate();
        slot.root.setAttribute("aria-hidden", "true");
        slot.root.inert = true;
      }
    }
    // Recycling a slot (tearing down its hls.js instance and media buffers) and preloading the
    // next item wait until this item shows its first frame (or 300 ms): neither may delay it.
    const move = ++this.#moves;
    let recycled = false;
    const recycle = () => {
      if (recycled || move !== this.#moves) return;
      recycled = true;
      this.#assign(target - 1);
      this.#assign(target + 1);
      this.#layout(0);
      for (const k of [target - 1, target + 1]) {
        const slot = this.#slotOf(k);
        if (slot && slot !== current) {
          slot.root.setAttribute("aria-hidden", "true");
          slot.root.inert = true;
        }
      }
      // The next item loads while this one plays (its playlist and first segment, low rung).
      const upcoming = this.#slotOf(target + 1);
      if (upcoming && upcoming.index >= 0) void upcoming.player.load();
    };
    current?.player.addEventListener("reel-first-frame", () => setTimeout(recycle, 0), { once: true });
    setTimeout(recycle, 300);
    this.#watching = { item, unreportedMs: 0, lastTime: 0, completed: false, viewed: false };
    this.#track("impression");
    if (this.#status) this.#status.textContent = `Video ${target + 1}${item.title ? `: ${item.title}` : ""}`;
    emit<ChangeDetail>(this, "reel-change", { index: target, item });
    if (this.#broken.has(item.id)) this.#skipSoon();
    if (target + 3 >= this.#items.length) void this.#loadMore();
  }

  /** Like or unlike the current item (double tap does the same). */
  like(liked = !this.#liked.has(this.current?.id ?? "")): void {
    const item = this.current;
    if (item === undefined) return;
    if (liked === this.#liked.has(item.id)) return;
    if (liked) this.#liked.add(item.id);
    else this.#liked.delete(item.id);
    // A like belongs to a user: without user-id only the DOM event fires (e.g. to ask for sign-in).
    if (this.getAttribute("user-id")) this.#track(liked ? "like" : "unlike");
    const heart = this.#slotOf(this.#index)?.heart;
    if (heart && liked) {
      delete heart.dataset.on;
      void heart.offsetWidth; // restart the animation
      heart.dataset.on = "";
    }
    emit<LikeDetail>(this, "reel-like", { item, liked });
  }

  /** Whether the current item is liked in this session. */
  get liked(): boolean {
    return this.#liked.has(this.current?.id ?? "");
  }

  /** Unmute (a user gesture is needed once) or mute again. */
  toggleMute(): void {
    this.#unmuted = !this.#unmuted;
    this.toggleAttribute("data-unmuted", this.#unmuted);
    const current = this.#slotOf(this.#index)?.player;
    if (current) {
      current.muted = !this.#unmuted;
      if (current.video) current.video.muted = !this.#unmuted;
    }
  }

  #render(): void {
    if (this.#viewport !== undefined) return;
    // delegatesFocus: focusing <reel-feed> (or tabbing to it) focuses the viewport inside.
    const root = this.shadowRoot ?? this.attachShadow({ mode: "open", delegatesFocus: true });
    const style = document.createElement("style");
    style.textContent = STYLE;
    const viewport = document.createElement("div");
    viewport.setAttribute("part", "viewport");
    viewport.setAttribute("role", "feed");
    viewport.setAttribute("aria-label", this.getAttribute("label") ?? "Videos");
    viewport.tabIndex = 0;
    for (let i = 0; i < SLOTS; i++) {
      const slot = document.createElement("div");
      slot.setAttribute("part", "slot");
      slot.setAttribute("role", "article");
      slot.setAttribute("aria-roledescription", "video");
      const player = document.createElement("reel-player") as ReelPlayerElement;
      player.setAttribute("loop", "");
      player.setAttribute("muted", "");
      player.setAttribute("preload", "none");
      const unmute = document.createElement("button");
      unmute.setAttribute("part", "unmute");
      unmute.type = "button";
      unmute.textContent = "Tap for sound";
      unmute.addEventListener("click", (event) => {
        event.stopPropagation();
        this.toggleMute();
      });
      unmute.addEventListener("pointerdown", (event) => event.stopPropagation());
      const heart = document.createElement("div");
      heart.setAttribute("part", "heart");
      heart.setAttribute("aria-hidden", "true");
      heart.textContent = "♥";
      slot.append(player, unmute, heart);
      viewport.append(slot);
      this.#slots.push({ root: slot, player, heart, index: -1 });
      this.#listenToPlayer(player);
    }
    const status = document.createElement("div");
    status.setAttribute("part", "status");
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    const empty = document.createElement("div");
    empty.setAttribute("part", "empty");
    empty.textContent = this.getAttribute("empty-text") ?? "Nothing to watch yet.";
    viewport.append(status, empty);
    root.append(style, viewport);
    this.#viewport = viewport;
    this.#status = status;
    this.toggleAttribute("data-reduced-motion", prefersReducedMotion());
    this.#listenToInput(viewport);
  }

  #setupTelemetry(): void {
    const endpoint = this.getAttribute("events");
    if (!endpoint || this.#telemetry) return;
    this.#telemetry = new Telemetry({
      endpoint,
      userId: this.getAttribute("user-id") ?? undefined,
      headers: Object.keys(this.headers).length > 0 ? this.headers : undefined,
    });
  }

  #slotOf(index: number): Slot | undefined {
    if (index < 0) return undefined;
    return this.#slots[index % SLOTS];
  }

  /** Put item `index` into its slot (recycling whatever the slot held). */
  #assign(index: number): void {
    const slot = this.#slotOf(index);
    if (slot === undefined || slot.index === index) return;
    const item = this.#items[index];
    slot.index = item === undefined ? -1 : index;
    const { player } = slot;
    if (item === undefined) {
      player.unload();
      player.removeAttribute("src");
      return;
    }
    player.setAttribute("preload", "none"); // goTo decides what loads
    if (item.poster) player.setAttribute("poster", item.poster);
    else player.removeAttribute("poster");
    if (item.title) player.setAttribute("label", item.title);
    else player.removeAttribute("label");
    slot.root.setAttribute("aria-label", item.title ?? `Video ${index + 1}`);
    player.setAttribute("src", item.src);
  }

  /** Position the slots around the current item, shifted by `offsetPx` while dragging. */
  #layout(offsetPx: number): void {
    for (const slot of this.#slots) {
      if (slot.index < 0) {
        slot.root.style.transform = "translateY(200%)";
        continue;
      }
      const rel = slot.index - this.#index;
      slot.root.style.transform = `translateY(calc(${rel * 100}% + ${offsetPx}px))`;
    }
  }

  async #loadMore(): Promise<void> {
    if (this.#loading) return this.#loading;
    if (this.#cursor === null || !this.src) return;
    const generation = this.#generation;
    const url = new URL(this.src, location.href);
    if (this.#cursor !== undefined) url.searchParams.set("cursor", this.#cursor);
    this.#loading = (async () => {
      try {
        const res = await fetch(url, { headers: { Accept: "application/json", ...this.headers } });
        if (!res.ok) throw new Error(`the feed answered ${res.status}`);
        const body: unknown = await res.json();
        if (generation !== this.#generation) return;
        this.#addPage(body);
        // The next item may have arrived just now: fill its slot.
        if (this.#index >= 0) {
          const before = this.#slotOf(this.#index + 1)?.index;
          this.#assign(this.#index + 1);
          const upcoming = this.#slotOf(this.#index + 1);
          if (upcoming && before !== upcoming.index) {
            this.#layout(0);
            void upcoming.player.load();
          }
        }
      } catch (error) {
        if (generation === this.#generation) this.#feedError((error as Error).message);
      } finally {
        if (generation === this.#generation) this.#loading = undefined;
      }
    })();
    return this.#loading;
  }

  /** Append a page's new items (validated; invalid ones reported) and take its cursor. */
  #addPage(body: unknown): void {
    const { page, dropped } = parseFeedPage(body);
    if (dropped > 0) this.#feedError(`${dropped} feed item(s) without an id or src were skipped`);
    for (const item of page.items) {
      if (this.#ids.has(item.id)) continue;
      this.#ids.add(item.id);
      this.#items.push(item);
    }
    this.#cursor = page.cursor;
  }

  /**
   * A first page rendered into the page by the server, saving a round trip at load:
   * `<reel-feed src="/feed"><script type="application/json">{"items":[…],"cursor":"…"}</script></reel-feed>`.
   * Used once; later refreshes fetch.
   */
  #inlinePage(): unknown {
    const script = this.querySelector(':scope > script[type="application/json"]');
    if (script === null) return undefined;
    script.remove();
    try {
      return JSON.parse(script.textContent ?? "");
    } catch {
      this.#feedError("the inline first page is not valid JSON");
      return undefined;
    }
  }

  #feedError(message: string): void {
    emit<FeedErrorDetail>(this, "reel-feed-error", { code: PlayerErrorCode.FEED_ERROR, message });
  }

  /** One telemetry event about `watching` (default: the current item), as its player sees it now. */
  #track(
    type: TelemetryEventType,
    extra: { watchMs?: number } = {},
    watching = this.#watching,
    slot = this.#slotOf(this.#index),
  ): void {
    const telemetry = this.#telemetry;
    if (watching === undefined || telemetry === undefined) return;
    const video = slot?.player.video;
    const duration = video?.duration;
    telemetry.track({
      type,
      videoId: watching.item.id,
      ...(watching.item.creatorId ? { creatorId: watching.item.creatorId } : {}),
      ...(duration && Number.isFinite(duration) ? { durationMs: duration * 1000 } : {}),
      ...(video && type !== "impression" ? { positionMs: video.currentTime * 1000 } : {}),
      ...extra,
    });
  }

  /** Report the current item's remaining watch time and QoE, and stop watching it. */
  #leave(): void {
    const watching = this.#watching;
    if (watching === undefined) return;
    const slot = this.#slotOf(this.#index);
    this.#sampleWatch(watching, slot);
    this.#report(watching, slot);
    this.#watching = undefined;
  }

  /** The rest of an item's watch time (a skip if it never completed) and its QoE. */
  #report(watching: Watching, slot: Slot | undefined): void {
    const watchMs = Math.round(watching.unreportedMs);
    if (!watching.completed) this.#track("skip", { watchMs }, watching, slot);
    else if (watchMs > 0) this.#track("watch", { watchMs }, watching, slot);
    const player = slot?.player;
    if (player) emit<QoeDetail>(this, "reel-qoe", { item: watching.item, qoe: { ...player.qoe } });
  }

  /** Add the playback time since the last sample to the unreported watch time. */
  #sampleWatch(watching = this.#watching, slot = this.#slotOf(this.#index)): void {
    const video = slot?.player.video;
    if (watching === undefined || video === undefined) return;
    const time = video.currentTime;
    const delta = time - watching.lastTime;
    if (delta > 0 && delta < 1.5) watching.unreportedMs += delta * 1000;
    watching.lastTime = time;
  }

  #listenToPlayer(player: ReelPlayerElement): void {
    const isCurrent = () => this.#slotOf(this.#index)?.player === player;
    player.addEventListener("reel-first-frame", () => {
      if (!isCurrent() || this.#watching === undefined || this.#watching.viewed) return;
      this.#watching.viewed = true;
      this.#track("view");
    });
    const onTime = () => {
      if (!isCurrent() || this.#watching === undefined) return;
      const video = player.video;
      if (video === undefined || video.paused || video.seeking) return;
      // A loop jumps back: the loop handler accounts for it.
      if (video.currentTime < this.#watching.lastTime) return;
      this.#sampleWatch();
      if (this.#watching.unreportedMs >= WATCH_EVERY_MS) {
        const watchMs = Math.round(this.#watching.unreportedMs);
        this.#watching.unreportedMs = 0;
        this.#track("watch", { watchMs });
      }
    };
    const finishedOnce = () => {
      const watching = this.#watching;
      if (!isCurrent() || watching === undefined) return;
      const video = player.video;
      // Count the tail end of the loop up to the end of the video.
      if (video && Number.isFinite(video.duration)) {
        const tail = video.duration - watching.lastTime;
        if (tail > 0 && tail < 1.5) watching.unreportedMs += tail * 1000;
      }
      const watchMs = Math.round(watching.unreportedMs);
      watching.unreportedMs = 0;
      watching.lastTime = 0;
      this.#track(watching.completed ? "replay" : "complete", { watchMs });
      watching.completed = true;
    };
    player.addEventListener("reel-loop", finishedOnce);
    player.addEventListener("reel-ended", finishedOnce);
    player.addEventListener("reel-error", (event) => {
      const detail = (event as CustomEvent<PlayerErrorDetail>).detail;
      if (!detail.fatal) return;
      const slot = this.#slots.find((s) => s.player === player);
      const item = slot ? this.#items[slot.index] : undefined;
      if (item) this.#broken.add(item.id);
      if (isCurrent()) this.#skipSoon();
    });
    // timeupdate does not bubble out of the shadow root: listen on the video itself.
    player.video?.addEventListener("timeupdate", onTime);
  }

  /** Show the error state briefly, then move on. */
  #skipSoon(): void {
    clearTimeout(this.#skipTimer);
    const index = this.#index;
    const delay = Number(this.getAttribute("error-skip-ms") ?? 1500);
    this.#skipTimer = setTimeout(() => {
      if (this.#index === index) this.next();
    }, delay);
  }

  #listenToInput(viewport: HTMLElement): void {
    this.addEventListener("keydown", (event) => {
      const key = event.key;
      if (key === "ArrowDown" || key === "PageDown" || key === "j") this.next();
      else if (key === "ArrowUp" || key === "PageUp" || key === "k") this.previous();
      else if (key === "m") this.toggleMute();
      else if (key === "l") this.like();
      else if (key === " " || key === "Enter") this.#togglePause();
      else return;
      event.preventDefault();
    });
    viewport.addEventListener(
      "wheel",
      (event) => {
        event.preventDefault();
        const now = performance.now();
        clearTimeout(this.#wheel.idle);
        this.#wheel.idle = setTimeout(() => {
          this.#wheel.sum = 0;
        }, 200);
        if (now < this.#wheel.lockedUntil) return; // a trackpad's inertia after one swipe
        this.#wheel.sum += event.deltaY;
        if (Math.abs(this.#wheel.sum) < 40) return;
        if (this.#wheel.sum > 0) this.next();
        else this.previous();
        this.#wheel.sum = 0;
        this.#wheel.lockedUntil = now + 600;
      },
      { passive: false },
    );
    viewport.addEventListener("pointerdown", (event) => {
      if (event.button !== 0) return;
      this.#drag = { id: event.pointerId, y: event.clientY, x: event.clientX, at: performance.now(), moved: false };
      viewport.setPointerCapture?.(event.pointerId);
    });
    viewport.addEventListener("pointermove", (event) => {
      const drag = this.#drag;
      if (drag === undefined || drag.id !== event.pointerId) return;
      const dy = event.clientY - drag.y;
      if (!drag.moved && Math.abs(dy) < TAP_SLOP) return;
      drag.moved = true;
      this.dataset.dragging = "";
      this.#layout(dy);
    });
    const end = (event: PointerEvent) => {
      const drag = this.#drag;
      if (drag === undefined || drag.id !== event.pointerId) return;
      this.#drag = undefined;
      delete this.dataset.dragging;
      const dy = event.clientY - drag.y;
      const elapsed = performance.now() - drag.at;
      if (!drag.moved) {
        if (event.type === "pointerup" && elapsed < TAP_MS) this.#tap();
        return;
      }
      const height = viewport.clientHeight || 1;
      const fast = Math.abs(dy) / Math.max(elapsed, 1) > 0.5;
      if (event.type === "pointerup" && (Math.abs(dy) > height * 0.2 || fast)) {
        if (dy < 0 && this.#index + 1 < this.#items.length) return this.next();
        if (dy > 0 && this.#index > 0) return this.previous();
      }
      this.#layout(0);
    };
    viewport.addEventListener("pointerup", end);
    viewport.addEventListener("pointercancel", end);
  }

  /** One tap unmutes (or pauses once unmuted); two quick taps like. */
  #tap(): void {
    const now = performance.now();
    if (now - this.#lastTapAt < DOUBLE_TAP_MS) {
      clearTimeout(this.#tapTimer);
      this.#lastTapAt = 0;
      this.like(true);
      return;
    }
    this.#lastTapAt = now;
    this.#tapTimer = setTimeout(() => {
      if (!this.#unmuted) this.toggleMute();
      else this.#togglePause();
    }, DOUBLE_TAP_MS);
  }

  #togglePause(): void {
    const player = this.#slotOf(this.#index)?.player;
    const video = player?.video;
    if (player === undefined || video === undefined) return;
    if (video.paused) void player.play();
    else player.pause();
  }
}
