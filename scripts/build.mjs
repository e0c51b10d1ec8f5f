// Bundles the library, the CLI, the task thread and the built-in jobs into dist/ with esbuild, so
// commands start without compiling TypeScript, `import … from 'geartrain'` works in plain Node,
// and both run without tsx's per-function wrappers. bin/geartrain.js uses dist/ while it is newer
// than every source file, and the sources through tsx otherwise.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const common = {
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  // Native and heavy packages stay in node_modules; pure-JS ones (zod…) are bundled, so a command
  // starts by reading a few files instead of hundreds (zod alone opens ~80 at import time).
  external: ['better-sqlite3', 'pg', 'pg-native', 'ioredis', 'esbuild', 'playwright-core', 'tsx'],
  define: { __GEARTRAIN_DIST__: 'true' },
  // Some dependencies need `require` inside an ES module bundle.
  banner: { js: "import { createRequire as __gtCreateRequire } from 'node:module'; const require = __gtCreateRequire(import.meta.url);" },
  logLevel: 'warning',
  sourcemap: 'linked',
  outExtension: { '.js': '.mjs' },
};

/**
 * zod's error messages in 40 languages (half of zod's 750 KB) are never used here (its English
 * ones are a module of their own): the CLI and task-thread bundles get an empty `locales`, so a
 * node and each task thread hold 370 KB less source.
 */
const withoutZodLocales = {
  name: 'without-zod-locales',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) => (args.importer.includes(`${path.sep}zod${path.sep}`) ? { path: 'zod-locales', namespace: 'empty' } : undefined));
    b.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: 'export {};', loader: 'js' }));
  },
};

/** Built-in jobs import the public `geartrain/jobs`: in the bundle that is the kit's own source. */
const jobKitFromSources = {
  name: 'job-kit-from-sources',
  setup(b) {
    b.onResolve({ filter: /^geartrain\/jobs$/ }, () => ({ path: path.join(root, 'src/job-kit.ts') }));
  },
};

/** Build everything into `dist` (emptied first); returns the number of built-in jobs. */
export async function buildDist(dist = path.join(root, 'dist')) {
  fs.rmSync(dist, { recursive: true, force: true });
  const jobs = fs.readdirSync(path.join(root, 'jobs')).filter((f) => /^[a-z][a-z0-9-]*\.ts$/.test(f));
  await Promise.all([
    // The library leaves its dependencies to node_modules: an app or a job file that imports zod
    // too then bundles or loads one copy of it, not two.
    build({ ...common, packages: 'external', entryPoints: { index: path.join(root, 'src/index.ts') }, outdir: dist }),
    // The CLI, the task thread, the job kit (`geartrain/jobs`) and the built-in jobs in one build
    // split into shared chunks: a command loads only the modules it reaches (its dynamic imports
    // are chunks of their own), so `geartrain node` does not load the job server's queue stores,
    // pg, ioredis, better-sqlite3 or esbuild; and a task thread that runs a built-in job loads one
    // copy of zod and the runtime, not two, since the jobs' `geartrain/jobs` is the kit's own
    // module here. Chunks stay in dist/ itself: modules find the package root and the task thread
    // one level up from their file.
    build({
      ...common,
      plugins: [withoutZodLocales, jobKitFromSources],
      splitting: true,
      chunkNames: 'chunk-[hash]',
      entryPoints: {
        geartrain: path.join(root, 'src/cli/main.ts'),
        'task-thread': path.join(root, 'src/mapreduce/task-thread.ts'),
        jobs: path.join(root, 'src/job-kit.ts'),
        ...Object.fromEntries(jobs.map((f) => [`jobs/${f.slice(0, -3)}`, path.join(root, 'jobs', f)])),
      },
      outdir: dist,
    }),
  ]);
  fs.writeFileSync(path.join(dist, 'BUILT'), `${new Date().toISOString()}\n`);
  return jobs.length;
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const jobs = await buildDist();
  console.log(`built dist/ (library, job kit, cli, task thread, ${jobs} jobs)`);
}
