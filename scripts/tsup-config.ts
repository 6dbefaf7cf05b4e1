// One tsup configuration for every package. Entries come from the package's own `exports` map
// (the `@reelkit/source` condition names each entry's source file), so adding a subpath export
// is a one-place change and the build can never drift from what the package promises.
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Options } from "tsup";

type ExportTarget = string | { [condition: string]: ExportTarget };

export function packageConfig(packageDir: string, overrides: Options = {}): Options {
  const pkg = JSON.parse(readFileSync(join(packageDir, "package.json"), "utf8")) as {
    exports: Record<string, ExportTarget>;
    bin?: Record<string, string>;
    peerDependencies?: Record<string, string>;
    dependencies?: Record<string, string>;
  };
  const entry: Record<string, string> = {};
  for (const [subpath, target] of Object.entries(pkg.exports)) {
    if (typeof target === "string") continue; // "./package.json"
    const source = target["@reelkit/source"];
    const built = target.default;
    if (typeof source !== "string" || typeof built !== "string") {
      throw new Error(`${subpath}: every code export needs "@reelkit/source" and "default" conditions`);
    }
    entry[built.replace(/^\.\/dist\//, "").replace(/\.js$/, "")] = source;
  }
  // Executables: ./dist/<name>.js is built from ./src/<name>.ts.
  for (const built of Object.values(pkg.bin ?? {})) {
    const name = built.replace(/^\.\/dist\//, "").replace(/\.js$/, "");
    entry[name] = `./src/${name}.ts`;
  }
  return {
    entry,
    format: ["esm"],
    target: "node20",
    platform: "neutral",
    dts: { compilerOptions: { composite: false, emitDeclarationOnly: false } },
    tsconfig: join(packageDir, "tsconfig.json"),
    clean: true,
    sourcemap: true,
    splitting: true,
    treeshake: true,
    // Dependencies and optional backend SDKs stay imports: the user's install provides them.
    external: [...Object.keys(pkg.dependencies ?? {}), ...Object.keys(pkg.peerDependencies ?? {})],
    ...overrides,
  };
}
