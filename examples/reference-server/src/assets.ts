// Browser bundles built once (esbuild, in memory) from the workspace packages: the player with
// hls.js, and the upload client. What a team would ship from its own build.
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const entries = {
  "player.js": `import Hls from "hls.js";
import { defineReelElements, useHls } from "@reelkit/player";
useHls(Hls);
defineReelElements();`,
  "upload.js": `export { createUploadClient } from "@reelkit/upload/client";`,
} as const;

export type AssetName = keyof typeof entries;
export const isAsset = (name: string): name is AssetName => Object.hasOwn(entries, name);

const built = new Map<AssetName, Promise<string>>();

export function asset(name: AssetName): Promise<string> {
  let text = built.get(name);
  if (text === undefined) {
    text = build({
      stdin: { contents: entries[name], resolveDir: fileURLToPath(new URL(".", import.meta.url)), loader: "js" },
      bundle: true,
      minify: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      conditions: ["@reelkit/source"],
      write: false,
      logLevel: "silent",
    }).then((result) => result.outputFiles[0]?.text ?? "");
    built.set(name, text);
    text.catch(() => built.delete(name));
  }
  return text;
}
