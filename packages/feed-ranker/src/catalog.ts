import { AnnIndex, type AnnOptions } from "./ann.js";
import { FeedRankerErrorCode } from "./errors.js";
import { type ModerationStatus, moderationStatuses, type VideoInput, videoSchema } from "./types.js";
import { parseWith } from "./validate.js";

/** Video metadata as the catalogue returns it (the embedding lives in the ANN index only). */
export interface CatalogVideo {
  videoId: string;
  creatorId: string;
  topics: string[];
  createdAt: number;
  durationMs: number;
  moderation: ModerationStatus;
}

/** A growable typed column. */
function grow<T extends Float64Array | Int32Array | Uint8Array>(column: T, size: number, make: (n: number) => T): T {
  if (size <= column.length) return column;
  const next = make(Math.max(1024, Math.ceil(size * 1.5)));
  next.set(column);
  return next;
}

/** Interns strings (creators, topics) as small integers. */
class Interner {
  readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  id(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.ids.set(name, id);
    }
    return id;
  }
}

/**
 * The videos a feed can serve, stored column-wise (typed arrays, interned creators and topics) so a
 * million videos cost about 100 bytes each besides their embeddings; embeddings go to an ANN
 * index. Keeps an upload-time order for fresh uploads and a per-creator list for following.
 */
export class Catalog {
  private readonly slots = new Map<string, number>();
  private readonly keys: string[] = [];
  private creator = new Int32Array(0);
  private created = new Float64Array(0);
  private duration = new Int32Array(0);
  private moderation = new Uint8Array(0);
  /** Topics: video `s` has topicIds[topicAt[s] .. topicAt[s] + topicCount[s]). */
  private topicAt = new Int32Array(0);
  private topicCount = new Uint8Array(0);
  private topicIds = new Int32Array(0);
  private topicsUsed = 0;
  private readonly creators = new Interner();
  private readonly topics = new Interner();
  private readonly byCreatorSlots = new Map<number, number[]>();
  private byTime: Int32Array | undefined;
  private ann: AnnIndex | undefined;
  private readonly annOptions: Omit<AnnOptions, "dim">;

  constructor(options: { ann?: Omit<AnnOptions, "dim"> } = {}) {
    this.annOptions = options.ann ?? {};
  }

  get size(): number {
    return this.keys.length;
  }

  /** Add or replace videos (validated). */
  upsert(videos: readonly VideoInput[]): void {
    for (const input of videos) {
      const { embedding, ...video } = parseWith(videoSchema, input, FeedRankerErrorCode.INVALID_INPUT, "video");
      let slot = this.slots.get(video.videoId);
      const creator = this.creators.id(video.creatorId);
      if (slot === undefined) {
        slot = this.keys.length;
        this.keys.push(video.videoId);
        this.slots.set(video.videoId, slot);
        const n = slot + 1;
        this.creator = grow(this.creator, n, (m) => new Int32Array(m));
        this.created = grow(this.created, n, (m) => new Float64Array(m));
        this.duration = grow(this.duration, n, (m) => new Int32Array(m));
        this.moderation = grow(this.moderation, n, (m) => new Uint8Array(m));
        this.topicAt = grow(this.topicAt, n, (m) => new Int32Array(m));
        this.topicCount = grow(this.topicCount, n, (m) => new Uint8Array(m));
        this.addToCreator(creator, slot);
      } else if (this.creator[slot] !== creator) {
        const list = this.byCreatorSlots.get(this.creator[slot] as number) ?? [];
        list.splice(list.indexOf(slot), 1);
        this.addToCreator(creator, slot);
      }
      this.creator[slot] = creator;
      this.created[slot] = video.createdAt;
      this.duration[slot] = video.durationMs;
      this.moderation[slot] = moderationStatuses.indexOf(video.moderation);
      if (video.topics.length > (this.topicCount[slot] as number)) {
        // More topics than the slot's region holds: append a new region (the old one is dropped).
        this.topicAt[slot] = this.topicsUsed;
        this.topicsUsed += video.topics.length;
        this.topicIds = grow(this.topicIds, this.topicsUsed, (m) => new Int32Array(m));
      }
      video.topics.forEach((topic, k) => {
        this.topicIds[(this.topicAt[slot] as number) + k] = this.topics.id(topic);
      });
      this.topicCount[slot] = video.topics.length;
      this.byTime = undefined;
      if (embedding !== undefined) {
        this.ann ??= new AnnIndex({ ...this.annOptions, dim: embedding.length });
        this.ann.add(video.videoId, embedding);
      }
    }
  }

  private addToCreator(creator: number, slot: number): void {
    const list = this.byCreatorSlots.get(creator);
    if (list === undefined) this.byCreatorSlots.set(creator, [slot]);
    else list.push(slot);
  }

  private video(slot: number): CatalogVideo {
    const at = this.topicAt[slot] as number;
    const topics: string[] = [];
    for (let k = 0; k < (this.topicCount[slot] as number); k++)
      topics.push(this.topics.names[this.topicIds[at + k] as number] as string);
    return {
      videoId: this.keys[slot] as string,
      creatorId: this.creators.names[this.creator[slot] as number] as string,
      topics,
      createdAt: this.created[slot] as number,
      durationMs: this.duration[slot] as number,
      moderation: moderationStatuses[this.moderation[slot] as number] as ModerationStatus,
    };
  }

  get(videoId: string): CatalogVideo | undefined {
    const slot = this.slots.get(videoId);
    return slot === undefined ? undefined : this.video(slot);
  }

  /** Every video id, in insertion order. */
  ids(): readonly string[] {
    return this.keys;
  }

  /** The creator's newest videos. */
  byCreator(creatorId: string, limit: number): CatalogVideo[] {
    const list = this.byCreatorSlots.get(this.creators.id(creatorId)) ?? [];
    return [...list]
      .sort((a, b) => (this.created[b] as number) - (this.created[a] as number))
      .slice(0, limit)
      .map((slot) => this.video(slot));
  }

  /** The newest uploads up to `now`, newest first. */
  fresh(limit: number, now: number): CatalogVideo[] {
    if (this.byTime === undefined) {
      const order = Int32Array.from({ length: this.keys.length }, (_, i) => i);
      order.sort((a, b) => (this.created[b] as number) - (this.created[a] as number) || a - b);
      this.byTime = order;
    }
    const out: CatalogVideo[] = [];
    // Binary search for the first video uploaded at or before `now`.
    let lo = 0;
    let hi = this.byTime.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((this.created[this.byTime[mid] as number] as number) > now) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < this.byTime.length && out.length < limit; i++) out.push(this.video(this.byTime[i] as number));
    return out;
  }

  /** The embedding index, when any video has an embedding. */
  get index(): AnnIndex | undefined {
    return this.ann;
  }
}
