// Copies the browser libraries the view uses out of node_modules and compiles its stylesheet,
// so the Python package serves them with no network and no npm. `--check` compares instead
// of writing, and fails when the committed files differ from what `npm ci` gives.
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import * as sass from "sass";

const here = dirname(fileURLToPath(import.meta.url));
const modules = join(here, "node_modules");
const check = process.argv.includes("--check");
const images = join(modules, "nhsuk-frontend/dist/nhsuk/assets/images");

// Vendored output: destination (relative to the repository) -> how to make it.
const outputs = {
  "app/view/static/vendor/d3.min.js": { copy: "d3/dist/d3.min.js" },
  "app/view/static/vendor/plot.umd.min.js": { copy: "@observablehq/plot/dist/plot.umd.min.js" },
  "app/view/static/view.css": { sass: join(here, "src/view.scss") },
  // The tests inject axe-core into each page; it is never served.
  "tests/view/axe.min.js": { copy: "axe-core/axe.min.js" },
};
for (const name of readdirSync(images).filter((f) => f.endsWith(".svg"))) {
  outputs[`app/view/static/vendor/nhsuk/images/${name}`] = {
    copy: `nhsuk-frontend/dist/nhsuk/assets/images/${name}`,
  };
}

function make(spec) {
  if (spec.copy) return readFileSync(join(modules, spec.copy));
  const css = sass.compile(spec.sass, { style: "compressed", loadPaths: [modules] }).css;
  return Buffer.from(css + "\n");
}

const repo = join(here, "../..");
const out = check ? mkdtempSync(join(tmpdir(), "pulse-view-")) : repo;
const differ = [];
for (const [path, spec] of Object.entries(outputs)) {
  const made = make(spec);
  if (check) {
    let committed = null;
    try {
      committed = readFileSync(join(repo, path));
    } catch {}
    if (committed === null || !committed.equals(made)) differ.push(path);
  } else {
    mkdirSync(dirname(join(out, path)), { recursive: true });
    writeFileSync(join(out, path), made);
  }
}
// A vendored file that the build no longer makes is stale.
const vendor = join(repo, "app/view/static/vendor");
const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : [relative(repo, join(dir, e.name))],
  );
const stale = walk(vendor).filter((p) => !(p in outputs));
if (check) rmSync(out, { recursive: true, force: true });
if (stale.length && !check) for (const p of stale) rmSync(join(repo, p));
if (check && (differ.length || stale.length)) {
  console.error("The vendored view files differ from a build of package-lock.json:");
  for (const p of [...differ, ...stale]) console.error(`  ${p}`);
  console.error("Run `npm ci && npm run build` in app/view and commit the result.");
  process.exit(1);
}
console.log(check ? "view assets: up to date" : `view assets: ${Object.keys(outputs).length} files written`);
