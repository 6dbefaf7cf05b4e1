import { mkdir, open, readFile, truncate } from "node:fs/promises";
import { dirname } from "node:path";
import { EngagementError, EngagementErrorCode } from "./errors.js";
import type { EngagementEvent } from "./schema.js";
import type { VideoRecord } from "./store.js";

/** One journal line: a batch of validated events, or a video registration. */
export type JournalEntry = { t: "e"; events: EngagementEvent[] } | { t: "v"; video: VideoRecord };

export interface Journal {
  append(entry: JournalEntry): Promise<void>;
  close(): Promise<void>;
}

/**
 * Read every entry of a journal, in order. A torn last line (a crash mid-append) is cut off, since
 * its batch was never acknowledged; damage anywhere before it is an error, never skipped silently.
 */
export async function readJournal(path: string): Promise<JournalEntry[]> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return [];
    throw new EngagementError(EngagementErrorCode.BACKEND_FAILED, `cannot read journal ${path}`, { cause: error });
  }
  const entries: JournalEntry[] = [];
  let offset = 0;
  while (offset < text.length) {
    const end = text.indexOf("\n", offset);
    const line = end === -1 ? text.slice(offset) : text.slice(offset, end);
    const complete = end !== -1;
    let entry: JournalEntry | undefined;
    try {
      entry = JSON.parse(line) as JournalEntry;
    } catch {
      entry = undefined;
    }
    if (entry === undefined || !complete) {
      if (complete && text.indexOf("\n", end + 1) !== -1) {
        throw new EngagementError(
          EngagementErrorCode.JOURNAL_CORRUPT,
          `journal ${path} has a damaged entry at byte ${Buffer.byteLength(text.slice(0, offset))}`,
        );
      }
      // The torn tail: drop it so the next append starts on a clean line.
      await truncate(path, Buffer.byteLength(text.slice(0, offset)));
      break;
    }
    entries.push(entry);
    offset = end + 1;
  }
  return entries;
}

/**
 * Open a journal for appending; each append is flushed to disk (fdatasync) before it resolves.
 * An append that fails part-way (a full disk) is cut back off the file and the error thrown, so the
 * journal never holds half a line before a good one, and a failed batch is never acknowledged.
 */
export async function openJournal(path: string, { sync = true }: { sync?: boolean } = {}): Promise<Journal> {
  await mkdir(dirname(path), { recursive: true });
  const handle = await open(path, "a");
  let size = (await handle.stat()).size;
  let broken: unknown;
  return {
    async append(entry) {
      if (broken !== undefined) {
        throw new EngagementError(EngagementErrorCode.BACKEND_FAILED, `journal ${path} failed earlier`, {
          cause: broken,
        });
      }
      const line = Buffer.from(`${JSON.stringify(entry)}\n`);
      try {
        let written = 0;
        while (written < line.length) {
          const { bytesWritten } = await handle.write(line, written, line.length - written);
          written += bytesWritten;
        }
        if (sync) await handle.datasync();
        size += line.length;
      } catch (cause) {
        try {
          await handle.truncate(size);
        } catch (truncateError) {
          // The file may now end in half a line: refuse further appends rather than write after it.
          broken = truncateError;
        }
        throw new EngagementError(EngagementErrorCode.BACKEND_FAILED, `cannot append to journal ${path}`, { cause });
      }
    },
    close: () => handle.close(),
  };
}
