// Finding ffmpeg and ffprobe, checking once that they can do what the package needs, and running
// them: one small `run` helper every caller (probe, complexity, the encoder) goes through, so
// abort, failure and missing-binary handling are the same everywhere.
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, stat } from "node:fs/promises";
import { delimiter, isAbsolute, join, resolve, sep } from "node:path";
import { z } from "zod";
import { TranscodeError, TranscodeErrorCode } from "./errors.js";
import { parseWith } from "./validate.js";

/** Oldest ffmpeg major version supported (the filters and `-fps_mode` we use are in 5.0). */
export const minimumFfmpegMajor = 5;

/** Encoders the ladder needs. */
export const requiredEncoders = ["libx264", "aac"] as const;

/** Filters the encode graph needs: scaling, fan-out, CFR, tone-mapping (zimg), rotation, storyboard tiling. */
export const requiredFilters = [
  "scale",
  "split",
  "fps",
  "format",
  "setsar",
  "zscale",
  "tonemap",
  "tile",
  "transpose",
] as const;

const installHint =
  "install a full build (Debian/Ubuntu: `apt-get install ffmpeg`; macOS: `brew install ffmpeg`) " +
  "or point FFMPEG_PATH / FFPROBE_PATH (or the ffmpegPath / ffprobePath options) at one";

export interface ToolsOptions {
  /** The ffmpeg executable: a path, or a name looked up on PATH. @default $FFMPEG_PATH, else `ffmpeg` on PATH */
  ffmpegPath?: string;
  /** The ffprobe executable: a path, or a name looked up on PATH. @default $FFPROBE_PATH, else `ffprobe` on PATH */
  ffprobePath?: string;
}

/** Checked tools: absolute paths and the ffmpeg version string. */
export interface Tools {
  ffmpeg: string;
  ffprobe: string;
  /** As ffmpeg prints it, e.g. "5.1.9-0+deb12u1" or "N-112233-gabcdef" for a git build. */
  version: string;
}

const toolsOptionsSchema = z.strictObject({
  ffmpegPath: z.string().min(1).optional(),
  ffprobePath: z.string().min(1).optional(),
});

const toolsCache = new Map<string, Promise<Tools>>();
const probeCache = new Map<string, Promise<string>>();

/**
 * Locate ffmpeg and ffprobe and check, once per path pair, that they are recent enough (≥ 5) and
 * have every encoder ({@link requiredEncoders}) and filter ({@link requiredFilters}) the package
 * uses. The check runs `ffmpeg -version`, `-encoders`, `-filters` and `ffprobe -version` and is
 * memoized as a promise: concurrent and later calls share it. A failed check is not cached, so
 * installing the missing piece fixes the next call without a restart.
 *
 * @throws TranscodeError `FFMPEG_MISSING` naming exactly what is missing and how to install it;
 *   `INVALID_OPTIONS` for bad options.
 */
export function resolveTools(options: ToolsOptions = {}): Promise<Tools> {
  let config: z.infer<typeof toolsOptionsSchema>;
  try {
    config = parseWith(toolsOptionsSchema, options, TranscodeErrorCode.INVALID_OPTIONS, "tool options");
  } catch (error) {
    return Promise.reject(error);
  }
  const ffmpeg = config.ffmpegPath ?? envPath("FFMPEG_PATH") ?? "ffmpeg";
  const ffprobe = config.ffprobePath ?? envPath("FFPROBE_PATH") ?? "ffprobe";
  const key = `${ffmpeg}\0${ffprobe}`;
  let checked = toolsCache.get(key);
  if (checked === undefined) {
    checked = checkTools(ffmpeg, ffprobe);
    toolsCache.set(key, checked);
    checked.catch(() => toolsCache.delete(key));
  }
  return checked;
}

/**
 * Locate and check ffprobe alone (`ffprobe -version`, major ≥ 5), memoized like {@link resolveTools}.
 * `probe` uses it so that probing does not require an ffmpeg it never runs.
 * @returns the absolute path of ffprobe
 */
export function resolveFfprobe(ffprobePath?: string): Promise<string> {
  const wanted = ffprobePath ?? envPath("FFPROBE_PATH") ?? "ffprobe";
  let checked = probeCache.get(wanted);
  if (checked === undefined) {
    checked = (async () => {
      const path = await locate(wanted, "ffprobe", "FFPROBE_PATH");
      await checkVersion(path, "ffprobe");
      return path;
    })();
    probeCache.set(wanted, checked);
    checked.catch(() => probeCache.delete(wanted));
  }
  return checked;
}

function envPath(name: "FFMPEG_PATH" | "FFPROBE_PATH"): string | undefined {
  const value = process.env[name];
  return value === undefined || value.trim() === "" ? undefined : value.trim();
}

async function checkTools(ffmpegWanted: string, ffprobeWanted: string): Promise<Tools> {
  const [ffmpeg, ffprobe] = await Promise.all([
    locate(ffmpegWanted, "ffmpeg", "FFMPEG_PATH"),
    locate(ffprobeWanted, "ffprobe", "FFPROBE_PATH"),
  ]);
  const [version, encoders, filters] = await Promise.all([
    checkVersion(ffmpeg, "ffmpeg"),
    run(ffmpeg, ["-hide_banner", "-encoders"]).then(({ stdout }) => listedNames(stdout, /^ [VASD.][A-Z.]{5} (\S+)/)),
    run(ffmpeg, ["-hide_banner", "-filters"]).then(({ stdout }) => listedNames(stdout, /^ [T.][S.][C.] (\S+)\s+\S*->/)),
    checkVersion(ffprobe, "ffprobe"),
  ]);
  const missingEncoders = requiredEncoders.filter((name) => !encoders.has(name));
  const missingFilters = requiredFilters.filter((name) => !filters.has(name));
  if (missingEncoders.length > 0 || missingFilters.length > 0) {
    const parts = [
      ...(missingEncoders.length > 0
        ? [`encoder${missingEncoders.length > 1 ? "s" : ""} ${missingEncoders.join(", ")}`]
        : []),
      ...(missingFilters.length > 0
        ? [`filter${missingFilters.length > 1 ? "s" : ""} ${missingFilters.join(", ")}`]
        : []),
    ];
    const libs = [
      ...(missingEncoders.includes("libx264") ? ["--enable-libx264 --enable-gpl"] : []),
      ...(missingFilters.includes("zscale") ? ["--enable-libzimg"] : []),
    ];
    throw new TranscodeError(
      TranscodeErrorCode.FFMPEG_MISSING,
      `${ffmpeg} (version ${version}) lacks ${parts.join(" and ")}` +
        `${libs.length > 0 ? ` (built without ${libs.join(", ")})` : ""}: ${installHint}`,
    );
  }
  return { ffmpeg, ffprobe, version };
}

/** The names in `-encoders` / `-filters` output: the first word after the flag column. */
function listedNames(output: string, pattern: RegExp): Set<string> {
  const names = new Set<string>();
  for (const line of output.split("\n")) {
    const match = pattern.exec(line);
    if (match?.[1] !== undefined) names.add(match[1]);
  }
  return names;
}

/** Run `<tool> -version`, check the major version; returns the version string. */
async function checkVersion(path: string, name: "ffmpeg" | "ffprobe"): Promise<string> {
  let stdout: string;
  try {
    ({ stdout } = await run(path, ["-hide_banner", "-version"]));
  } catch (error) {
    if (error instanceof TranscodeError && error.code === TranscodeErrorCode.FFMPEG_MISSING) throw error;
    throw new TranscodeError(
      TranscodeErrorCode.FFMPEG_MISSING,
      `${path} -version failed; is it ${name}? ${installHint}`,
      {
        cause: error,
      },
    );
  }
  const match = /^\S+ version (\S+)/m.exec(stdout);
  const version = match?.[1];
  if (version === undefined) {
    throw new TranscodeError(
      TranscodeErrorCode.FFMPEG_MISSING,
      `${path} -version printed no "${name} version …" line; is it ${name}? ${installHint}`,
    );
  }
  const major = parseMajor(version);
  if (major !== undefined && major < minimumFfmpegMajor) {
    throw new TranscodeError(
      TranscodeErrorCode.FFMPEG_MISSING,
      `${path} is ${name} ${version}; version ${minimumFfmpegMajor} or newer is required: ${installHint}`,
    );
  }
  return version;
}

/**
 * The major version of an ffmpeg version string: "5.1.9-0+deb12u1" → 5, "n6.1" → 6. Git builds
 * ("N-112233-gabcdef", "git-2023-…") have none and count as new enough.
 */
export function parseMajor(version: string): number | undefined {
  const match = /^n?(\d+)\.\d/.exec(version);
  return match?.[1] === undefined ? undefined : Number(match[1]);
}

/** A name with no path separator is looked up on PATH; a path is checked to be an executable file. */
async function locate(wanted: string, name: "ffmpeg" | "ffprobe", variable: string): Promise<string> {
  const hasSeparator = wanted.includes("/") || (sep === "\\" && wanted.includes("\\"));
  if (hasSeparator || isAbsolute(wanted)) {
    const path = resolve(wanted);
    if (await isExecutable(path)) return path;
    throw new TranscodeError(
      TranscodeErrorCode.FFMPEG_MISSING,
      `${name} not found at ${path} (or not executable): fix ${variable} / the ${name}Path option, or ${installHint}`,
    );
  }
  const extensions =
    process.platform === "win32" ? ["", ...(process.env.PATHEXT ?? ".EXE;.CMD;.BAT").split(";")] : [""];
  for (const dir of (process.env.PATH ?? "").split(delimiter)) {
    if (dir === "") continue;
    for (const extension of extensions) {
      const candidate = join(dir, wanted + extension);
      if (await isExecutable(candidate)) return candidate;
    }
  }
  throw new TranscodeError(TranscodeErrorCode.FFMPEG_MISSING, `${wanted} was not found on PATH: ${installHint}`);
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    const info = await stat(path);
    if (!info.isFile()) return false;
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

export interface RunOptions {
  /** Aborting kills the child (SIGKILL) and rejects with `ABORTED` once it has exited. */
  signal?: AbortSignal;
  /** Every stderr line as it arrives (lines split on `\n` and `\r`, empty lines dropped). */
  onStderrLine?: (line: string) => void;
  /** Every stdout line as it arrives, e.g. with `-progress pipe:1`. stdout is still collected. */
  onStdoutLine?: (line: string) => void;
  /**
   * Raw stdout chunks, for binary output (e.g. `-f h264 pipe:1`). When given, stdout is handed
   * over and not collected: `stdout` in the result is empty.
   */
  onStdout?: (chunk: Buffer) => void;
  /** How many of the last stderr lines to keep for the result and error messages. @default 50 */
  stderrLines?: number;
  /**
   * Resolve with the exit code instead of rejecting when the tool exits non-zero or is killed
   * (ABORTED and a tool that cannot start still reject).
   * @default false
   */
  allowFailure?: boolean;
}

export interface RunResult {
  /** Exit code; `null` when the child was killed by a signal. */
  exitCode: number | null;
  /** Collected stdout (UTF-8); empty when `onStdout` took it. */
  stdout: string;
  /** The last `stderrLines` lines of stderr. */
  stderrTail: string[];
}

/** The `cause` of an `FFMPEG_FAILED` error: what the tool said before it failed. */
export class ToolExitError extends Error {
  override readonly name = "ToolExitError";
  constructor(
    readonly tool: string,
    readonly exitCode: number | null,
    readonly exitSignal: NodeJS.Signals | null,
    readonly stderrTail: readonly string[],
  ) {
    super(`${tool} exited with ${exitCode === null ? `signal ${exitSignal ?? "?"}` : `code ${exitCode}`}`);
  }
}

/**
 * Run a tool (ffmpeg, ffprobe…) without a shell: stdin is closed, stdout is collected (or streamed
 * through `onStdout` / `onStdoutLine`), and the last `stderrLines` stderr lines are kept.
 *
 * - exit 0 → resolves `{ exitCode: 0, stdout, stderrTail }`;
 * - non-zero exit or killed → rejects `FFMPEG_FAILED` whose message ends with the stderr tail and
 *   whose `cause` is a {@link ToolExitError} (or resolves, with `allowFailure`);
 * - `signal` aborted (before or during) → the child is SIGKILLed and the promise rejects `ABORTED`
 *   after the child has exited, so its output files can be removed safely;
 * - the executable cannot be started (ENOENT, EACCES) → rejects `FFMPEG_MISSING`.
 */
export function run(tool: string, args: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const { signal, onStderrLine, onStdoutLine, onStdout, stderrLines = 50, allowFailure = false } = options;
  const aborted = () =>
    new TranscodeError(TranscodeErrorCode.ABORTED, `${tool} was aborted`, { cause: signal?.reason });
  if (signal?.aborted) return Promise.reject(aborted());

  return new Promise<RunResult>((resolvePromise, rejectPromise) => {
    const child = spawn(tool, [...args], { stdio: ["ignore", "pipe", "pipe"], windowsHide: true });
    const stdoutChunks: Buffer[] = [];
    const tail: string[] = [];
    let stderrRest = "";
    let stdoutRest = "";
    let spawnError: NodeJS.ErrnoException | undefined;
    let wasAborted = false;

    const pushStderr = (line: string) => {
      if (line.trim() === "") return;
      tail.push(line);
      if (tail.length > stderrLines) tail.shift();
      onStderrLine?.(line);
    };
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (text: string) => {
      const lines = (stderrRest + text).split(/\r\n|\r|\n/);
      stderrRest = lines.pop() ?? "";
      for (const line of lines) pushStderr(line);
    });
    child.stdout.on("data", (chunk: Buffer) => {
      if (onStdout) onStdout(chunk);
      else stdoutChunks.push(chunk);
      if (onStdoutLine) {
        const lines = (stdoutRest + chunk.toString("utf8")).split(/\r\n|\n/);
        stdoutRest = lines.pop() ?? "";
        for (const line of lines) onStdoutLine(line);
      }
    });

    const onAbort = () => {
      wasAborted = true;
      child.kill("SIGKILL");
    };
    signal?.addEventListener("abort", onAbort, { once: true });

    child.on("error", (error: NodeJS.ErrnoException) => {
      spawnError = error;
      // 'close' follows 'error' only when the process was spawned; settle here when it was not.
      if (child.pid === undefined) finish(null, null);
    });
    child.on("close", (code, exitSignal) => finish(code, exitSignal));

    let settled = false;
    function finish(code: number | null, exitSignal: NodeJS.Signals | null) {
      if (settled) return;
      settled = true;
      signal?.removeEventListener("abort", onAbort);
      if (stderrRest !== "") pushStderr(stderrRest);
      if (stdoutRest !== "") onStdoutLine?.(stdoutRest);
      if (wasAborted) return rejectPromise(aborted());
      if (spawnError !== undefined && child.pid === undefined) {
        return rejectPromise(
          new TranscodeError(
            TranscodeErrorCode.FFMPEG_MISSING,
            `cannot start ${tool} (${spawnError.code ?? spawnError.message}): ${installHint}`,
            { cause: spawnError },
          ),
        );
      }
      const result: RunResult = {
        exitCode: code,
        stdout: Buffer.concat(stdoutChunks).toString("utf8"),
        stderrTail: tail,
      };
      if (code === 0 || allowFailure) return resolvePromise(result);
      const cause = new ToolExitError(tool, code, exitSignal, tail);
      rejectPromise(
        new TranscodeError(
          TranscodeErrorCode.FFMPEG_FAILED,
          `${cause.message}${tail.length > 0 ? `:\n${tail.join("\n")}` : " (no stderr output)"}`,
          { cause },
        ),
      );
    }
  });
}
