import { z } from "zod";

/** Every engagement event type, in the order a viewer typically produces them. */
export const engagementEventTypes = [
  "impression",
  "view",
  "watch",
  "complete",
  "replay",
  "skip",
  "like",
  "unlike",
  "share",
  "comment",
] as const;

export type EngagementEventType = (typeof engagementEventTypes)[number];

const identifier = z.string().trim().min(1).max(128);
const milliseconds = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

/**
 * One engagement event, as the player sends it. This package owns the shape; the player and the
 * reference server follow it (the reference server's contract test checks that they do).
 */
export const engagementEventSchema = z.strictObject({
  /** Client-generated and unique: an id is applied at most once. */
  id: identifier,
  type: z.enum(engagementEventTypes),
  videoId: identifier,
  sessionId: identifier,
  userId: identifier.optional(),
  creatorId: identifier.optional(),
  /** When it happened, in milliseconds since the Unix epoch. */
  ts: milliseconds,
  /** Watch time covered by this event (on `watch`, `complete`, `skip`). */
  watchMs: milliseconds.optional(),
  /** The video's duration as the player knows it. */
  durationMs: milliseconds.optional(),
  /** Playback position when the event was produced. */
  positionMs: milliseconds.optional(),
});

export type EngagementEvent = z.infer<typeof engagementEventSchema>;

/**
 * Why an event is refused by the rules that need no clock (its shape, and a like needing a user),
 * or the parsed event. `record()` adds the clock rules; the Kafka sink uses this alone.
 */
export function eventProblem(raw: unknown): string | EngagementEvent {
  const parsed = engagementEventSchema.safeParse(raw);
  if (!parsed.success) return z.prettifyError(parsed.error).replaceAll("\n", "; ");
  const event = parsed.data;
  if ((event.type === "like" || event.type === "unlike") && event.userId === undefined) {
    return `${event.type} needs a userId: a like belongs to a user`;
  }
  return event;
}
