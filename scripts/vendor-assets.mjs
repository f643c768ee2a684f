// Copies the console's chart library (uPlot, a devDependency) next to the console's own
// files, so `[assets]` serves it: run by `npm install` (postinstall). No bundler, no CDN.
import { copyFileSync, mkdirSync } from 'node:fs';

const to = new URL('../public/admin/vendor/', import.meta.url);
mkdirSync(to, { recursive: true });
for (const file of ['uPlot.iife.min.js', 'uPlot.min.css']) {
  copyFileSync(new URL(`../node_modules/uplot/dist/${file}`, import.meta.url), new URL(file, to));
}
