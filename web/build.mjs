// Build the UI into dist/: one bundled script, one stylesheet (content-hashed names) and
// index.html pointing at them. dist/ is a plain static directory any web server can serve.
import { build } from "esbuild";
import { mkdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";

const here = path.dirname(new URL(import.meta.url).pathname);
const out = path.join(here, "dist");
await rm(out, { recursive: true, force: true });
await mkdir(out, { recursive: true });

const result = await build({
  entryPoints: { app: path.join(here, "src/main.js"), style: path.join(here, "src/style.css") },
  bundle: true, minify: true, format: "esm", target: ["es2020"], outdir: out,
  entryNames: "[name]-[hash]", metafile: true, legalComments: "eof", logLevel: "warning",
});
const names = Object.keys(result.metafile.outputs).map((file) => path.basename(file));
const pick = (prefix, ext) => names.find((name) => name.startsWith(prefix) && name.endsWith(ext));
const page = (await readFile(path.join(here, "index.html"), "utf8"))
  .replace("{{app.js}}", `/assets/${pick("app-", ".js")}`)
  .replace("{{style.css}}", `/assets/${pick("style-", ".css")}`);
await writeFile(path.join(out, "index.html"), page);
console.log(`web/dist: ${names.join(", ")}, index.html`);
