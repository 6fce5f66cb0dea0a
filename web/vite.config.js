// Builds the dashboard into cityhub/web/static (committed: `pip install` needs no Node.js).
// `make web` runs `npm ci && npm run build`; the output depends only on package-lock.json
// and these sources (hashed file names, no timestamps), so a rebuild gives the same files.
// build-info.json records a digest of the sources it was built from; a test
// (tests/web/test_site.py) fails when the sources changed and the build was not redone.
import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { defineConfig } from 'vite';

const ROOT = import.meta.dirname;
const INPUTS = ['index.html', 'package.json', 'package-lock.json', 'vite.config.js', 'src', 'public'];

function files(path) {
  return statSync(path).isDirectory() ? readdirSync(path).flatMap((name) => files(join(path, name))) : [path];
}

/** sha256 over "relative/path\0content\0" of every source file, in path order. */
export function sourceDigest() {
  const hash = createHash('sha256');
  const all = INPUTS.flatMap((p) => files(join(ROOT, p))).map((p) => relative(ROOT, p).split(sep).join('/')).sort();
  for (const name of all) {
    hash.update(`${name}\0`);
    hash.update(readFileSync(join(ROOT, name)));
    hash.update('\0');
  }
  return hash.digest('hex');
}

const buildInfo = {
  name: 'cityhub-build-info',
  generateBundle() {
    this.emitFile({ type: 'asset', fileName: 'build-info.json', source: `${JSON.stringify({ sources: sourceDigest() })}\n` });
  },
};

export default defineConfig({
  base: '/static/',
  plugins: [buildInfo],
  build: {
    outDir: '../cityhub/web/static',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    modulePreload: { polyfill: false }, // no inline script: the page's CSP allows none
    assetsInlineLimit: 4096,
    chunkSizeWarningLimit: 400,
  },
});
