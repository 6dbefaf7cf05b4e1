// Engagement telemetry: events batched and POSTed as a JSON array, in the shape
// @reelkit/engagement's `engagementEventSchema` validates. Every event carries a unique id, so a
// batch retried after a failure is never counted twice.
import { randomId } from "./dom.js";

/** What the player reports; the reference server feeds these to @reelkit/engagement. */
export type TelemetryEventType = "impression" | "view" | "watch" | "complete" | "replay" | "skip" | "like" | "unlike";

export interface TelemetryEvent {
  id: string;
  type: TelemetryEventType;
  videoId: string;
  sessionId: string;
  userId?: string;
  creatorId?: string;
  /** Epoch milliseconds. */
  ts: number;
  /** Watch time covered by this event (disjoint from every other event's). */
  watchMs?: number;
  durationMs?: number;
  positionMs?: number;
}

export type TrackedEvent = Omit<TelemetryEvent, "id" | "sessionId" | "ts" | "userId"> & { ts?: number };

export interface TelemetryOptions {
  /** Where batches are POSTed (a JSON array body). */
  endpoint: string;
  /** @default the tab's session id (see `tabSessionId`) */
  sessionId?: string | undefined;
  /** Added to every event when known (likes need it). */
  userId?: string | undefined;
  /** A batch is sent at least this often while events wait. @default 5000 */
  flushIntervalMs?: number | undefined;
  /** A batch is sent as soon as this many events wait. @default 20 */
  maxBatch?: number | undefined;
  /** Extra request headers (e.g. `Authorization`); `sendBeacon` cannot send them, so with headers every batch uses `fetch(keepalive)`. */
  headers?: Record<string, string> | undefined;
}

const SESSION_KEY = "reelkit:session";
/** Events kept for a retry when the endpoint is unreachable; the oldest are dropped beyond it. */
const MAX_PENDING = 500;
let memorySession: string | undefined;

/** One id per browser tab (sessionStorage), stable across reloads of that tab. */
export function tabSessionId(): string {
  try {
    if (typeof sessionStorage !== "undefined") {
      const saved = sessionStorage.getItem(SESSION_KEY);
      if (saved) return saved;
      const made = randomId();
      sessionStorage.setItem(SESSION_KEY, made);
      return made;
    }
  } catch {}
  memorySession ??= randomId();
  return memorySession;
}

export class Telemetry {
  readonly sessionId: string;
  userId: string | undefined;
  #endpoint: string;
  #interval: number;
  #maxBatch: number;
  #headers: Record<string, string> | undefined;
  #queue: TelemetryEvent[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  #sending: Promise<void> = Promise.resolve();
  #onHide = () => {
    if (typeof document === "undefined" || document.visibilityState === "hidden") this.flush({ unloading: true });
  };

  constructor(options: TelemetryOptions) {
    if (typeof options.endpoint !== "string" || options.endpoint === "")
      throw new TypeError("telemetry endpoint must be a non-empty URL");
    this.#endpoint = options.endpoint;
    this.sessionId = options.sessionId ?? tabSessionId();
    this.userId = options.userId;
    this.#interval = options.flushIntervalMs ?? 5000;
    this.#maxBatch = options.maxBatch ?? 20;
    this.#headers = options.headers;
    if (typeof addEventListener !== "undefined") {
      addEventListener("pagehide", this.#onHide);
      addEventListener("visibilitychange", this.#onHide);
    }
  }

  /** Queue one event; returns it as it will be sent. */
  track(event: TrackedEvent): TelemetryEvent {
    const full: TelemetryEvent = {
      ...event,
      id: randomId(),
      sessionId: this.sessionId,
      ts: Math.round(event.ts ?? Date.now()),
      ...(this.userId !== undefined ? { userId: this.userId } : {}),
    };
    for (const key of ["watchMs", "durationMs", "positionMs"] as const) {
      const value = full[key];
      if (value === undefined) continue;
      if (!Number.isFinite(value) || value < 0) delete full[key];
      else full[key] = Math.round(value);
    }
    this.#queue.push(full);
    if (this.#queue.length >= this.#maxBatch) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), this.#interval);
    return full;
  }

  /** Send what is queued. While the page unloads, `sendBeacon` is tried first. */
  flush(options: { unloading?: boolean } = {}): Promise<void> {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queue.length === 0) return this.#sending;
    const batch = this.#queue.splice(0, this.#queue.length);
    const body = JSON.stringify(batch);
    if (options.unloading && this.#headers === undefined && typeof navigator !== "undefined" && navigator.sendBeacon) {
      try {
        if (navigator.sendBeacon(this.#endpoint, new Blob([body], { type: "application/json" }))) return this.#sending;
      } catch {}
    }
    this.#sending = this.#sending.then(() => this.#post(batch, body));
    return this.#sending;
  }

  async #post(batch: TelemetryEvent[], body: string): Promise<void> {
    try {
      const res = await fetch(this.#endpoint, {
        method: "POST",
        headers: { "Content-Type": "application/json", ...this.#headers },
        body,
        keepalive: body.length < 60_000, // browsers cap keepalive bodies at 64 KiB in flight
      });
      // 4xx: the batch will never be accepted; dropping it keeps the queue moving.
      if (res.status >= 500) this.#retryLater(batch);
    } catch {
      this.#retryLater(batch);
    }
  }

  #retryLater(batch: TelemetryEvent[]): void {
    this.#queue.unshift(...batch);
    if (this.#queue.length > MAX_PENDING) this.#queue.splice(0, this.#queue.length - MAX_PENDING);
    this.#timer ??= setTimeout(() => this.flush(), this.#interval * 2);
  }

  /** Events waiting to be sent. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Send what is left and stop listening to page events. */
  close(): Promise<void> {
    if (typeof removeEventListener !== "undefined") {
      removeEventListener("pagehide", this.#onHide);
      removeEventListener("visibilitychange", this.#onHide);
    }
    return this.flush();
  }
}
