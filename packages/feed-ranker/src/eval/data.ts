import { readFile } from "node:fs/promises";
import { FeedRankerError, FeedRankerErrorCode } from "../errors.js";

/** One user–item interaction; every row of the file counts as a positive. */
export interface Interaction {
  userId: string;
  itemId: string;
  /** Seconds or milliseconds, as in the file; only the order and gaps matter. 0 when absent. */
  timestamp: number;
  /** The rating, when the file has a rating column (an explicit strength of the interaction). */
  rating?: number;
}

const userNames = ["user_id", "userid", "user", "uid"];
const itemNames = ["item_id", "itemid", "item", "movie_id", "movieid", "video_id", "videoid", "iid"];
const timeNames = ["timestamp", "time", "ts"];
const ratingNames = ["rating", "score", "stars"];

function column(header: string[], names: string[]): number {
  return header.findIndex((h) => names.includes(h));
}

/**
 * Parse a RecBole atomic `.inter` file (tab-separated, header `user_id:token item_id:token …`) or
 * a CSV with a header naming user, item and (optionally) timestamp and rating columns.
 */
export function parseInteractions(text: string, format: "inter" | "csv"): Interaction[] {
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== "");
  const sep = format === "inter" ? "\t" : ",";
  const headerLine = lines[0];
  if (headerLine === undefined) throw new FeedRankerError(FeedRankerErrorCode.DATA_INVALID, "the file is empty");
  const header = headerLine.split(sep).map((h) => h.trim().replace(/^"|"$/g, "").replace(/:.*$/, "").toLowerCase());
  const u = column(header, userNames);
  const i = column(header, itemNames);
  const t = column(header, timeNames);
  const rt = column(header, ratingNames);
  if (u < 0 || i < 0) {
    throw new FeedRankerError(
      FeedRankerErrorCode.DATA_INVALID,
      `the header needs a user and an item column (e.g. user_id, item_id), got: ${header.join(", ")}`,
    );
  }
  const out: Interaction[] = [];
  for (let n = 1; n < lines.length; n++) {
    const cells = (lines[n] as string).split(sep).map((c) => c.trim().replace(/^"|"$/g, ""));
    const userId = cells[u];
    const itemId = cells[i];
    if (!userId || !itemId) {
      throw new FeedRankerError(FeedRankerErrorCode.DATA_INVALID, `line ${n + 1}: missing user or item`);
    }
    const timestamp = t >= 0 ? Number(cells[t]) : 0;
    if (!Number.isFinite(timestamp)) {
      throw new FeedRankerError(FeedRankerErrorCode.DATA_INVALID, `line ${n + 1}: timestamp is not a number`);
    }
    if (rt < 0) {
      out.push({ userId, itemId, timestamp });
      continue;
    }
    const rating = Number(cells[rt]);
    if (!Number.isFinite(rating) || cells[rt] === "") {
      throw new FeedRankerError(FeedRankerErrorCode.DATA_INVALID, `line ${n + 1}: rating is not a number`);
    }
    out.push({ userId, itemId, timestamp, rating });
  }
  return out;
}

/** Read interactions from a `.inter` or `.csv` file (by extension; anything else is read as CSV). */
export async function loadInteractions(path: string): Promise<Interaction[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    throw new FeedRankerError(FeedRankerErrorCode.DATA_INVALID, `cannot read ${path}`, { cause: error });
  }
  return parseInteractions(text, path.endsWith(".inter") ? "inter" : "csv");
}
