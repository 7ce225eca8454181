// build.mjs — puts the page together in web/dist: our own files from
// src/ and the built files of the npm packages (package-lock.json pins
// them). No bundler: the page is plain modules and two libraries, and
// cmake/embed_web.cmake embeds dist/ into the binary. Run by
// scripts/setup.sh after `npm ci`; `npm run build` does the same.
import { copyFileSync, mkdirSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, 'dist');
const vendored = [
  ['leaflet/dist/leaflet.js', 'leaflet.js'],
  ['leaflet/dist/leaflet.css', 'leaflet.css'],
  ['uplot/dist/uPlot.iife.min.js', 'uPlot.iife.min.js'],
  ['uplot/dist/uPlot.min.css', 'uPlot.min.css'],
];

for (const [from] of vendored) {
  if (!existsSync(join(here, 'node_modules', from))) {
    console.error(`build.mjs: node_modules/${from} is missing: run npm ci in web/ first`);
    process.exit(1);
  }
}
rmSync(dist, { recursive: true, force: true });
mkdirSync(dist);
for (const [from, to] of vendored) copyFileSync(join(here, 'node_modules', from), join(dist, to));
for (const f of readdirSync(join(here, 'src'))) copyFileSync(join(here, 'src', f), join(dist, f));
console.log(`build.mjs: ${readdirSync(dist).length} files in web/dist`);
