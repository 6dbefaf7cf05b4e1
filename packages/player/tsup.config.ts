import { build } from "esbuild";
import { defineConfig } from "tsup";
import { packageConfig } from "../../scripts/tsup-config.ts";

export default defineConfig(
  packageConfig(import.meta.dirname, {
    target: "es2022",
    platform: "browser",
    // The CDN file: our code and hls.js in one minified ES module that defines the elements.
    async onSuccess() {
      await build({
        entryPoints: ["src/cdn.ts"],
        outfile: "dist/cdn/reelkit-player.js",
        bundle: true,
        minify: true,
        format: "esm",
        platform: "browser",
        target: "es2020",
        conditions: ["@reelkit/source"],
        legalComments: "linked",
        logLevel: "warning",
      });
    },
  }),
);
