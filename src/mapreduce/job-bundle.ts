/**
 * A job file made into one ES module with esbuild: the file and its imports (relative files, npm
 * packages from the file's own directory), which is what the coordinator imports and what the nodes
 * fetch. `geartrain`, `geartrain/jobs` and `zod` are this installation's own copies wherever the file
 * is, so a job file needs no package.json and no node_modules of its own.
 */
import fs from 'node:fs';
import path from 'node:path';
import { build, type Plugin } from 'esbuild';
import { PACKAGE_ROOT } from '../dist-mode.ts';
import { InvalidArgumentError } from '../errors.ts';

/** The package's entries, by the name a job imports them by: their TypeScript sources. */
const OWN_ENTRIES: Readonly<Record<string, string>> = {
  geartrain: 'src/index.ts',
  'geartrain/jobs': 'src/job-kit.ts',
};

/**
 * Packages the library's sources import that a job never reaches (the job server's stores, the
 * bundler itself): left as imports, which tree shaking then drops with the code that uses them.
 */
const LIBRARY_ONLY = /^(?:better-sqlite3|pg|pg-native|ioredis|esbuild|tsx|playwright-core)(?:\/|$)/;

/** Marks the plugin's own nested resolves, so they take esbuild's default path. */
const NESTED = Symbol('nested');

/**
 * Resolves `geartrain` and `geartrain/jobs` to the package's sources, marked free of side effects
 * (a job that imports `defineJob` gets `defineJob`, not the job server), and `zod` from the
 * package's directory; everything else as esbuild does, from the importing file's directory.
 */
export function ownCopiesPlugin(root = PACKAGE_ROOT): Plugin {
  const src = path.join(root, 'src') + path.sep;
  return {
    name: 'geartrain-own-copies',
    setup(b) {
      b.onResolve({ filter: /^geartrain(?:\/|$)/ }, (a) => {
        const entry = OWN_ENTRIES[a.path];
        if (entry === undefined) return { errors: [{ text: `geartrain has no entry '${a.path}': a job imports 'geartrain/jobs' (or 'geartrain')` }] };
        return { path: path.join(root, entry), sideEffects: false };
      });
      b.onResolve({ filter: /^zod(?:\/|$)/ }, (a) => (a.pluginData === NESTED ? undefined : b.resolve(a.path, { kind: a.kind, resolveDir: root, pluginData: NESTED })));
      b.onResolve({ filter: /.*/ }, async (a) => {
        if (a.pluginData === NESTED || !a.importer.startsWith(src)) return undefined;
        if (LIBRARY_ONLY.test(a.path)) return { path: a.path, external: true };
        if (!a.path.startsWith('.')) return undefined;
        const r = await b.resolve(a.path, { kind: a.kind, resolveDir: a.resolveDir, importer: a.importer, pluginData: NESTED });
        return r.errors.length > 0 ? { errors: r.errors } : { path: r.path, namespace: r.namespace, external: r.external, sideEffects: false };
      });
    },
  };
}

/**
 * Lets CommonJS packages in the bundle call `require`. A top-level await rather than a named import
 * from node:module: a named binding collides with the same banner of a bundle the job imports.
 */
const REQUIRE_BANNER = "const require = (await import('node:module')).createRequire(import.meta.url);";

/** The job file as one ES module: the bytes the nodes run. */
export async function bundleJobFile(file: string): Promise<Buffer> {
  if (!fs.existsSync(file)) throw new InvalidArgumentError(`job file ${file} does not exist`, { field: 'job' });
  try {
    const result = await build({
      entryPoints: [path.resolve(file)],
      bundle: true,
      platform: 'node',
      format: 'esm',
      target: 'node20',
      write: false,
      logLevel: 'silent',
      plugins: [ownCopiesPlugin()],
      banner: { js: REQUIRE_BANNER },
    });
    return Buffer.from(result.outputFiles[0]!.contents);
  } catch (err) {
    const first = (err as { errors?: { text: string; location?: { file: string; line: number } }[] }).errors?.[0];
    const where = first?.location ? ` (${first.location.file}:${first.location.line})` : '';
    throw new InvalidArgumentError(`cannot bundle ${file}: ${first?.text ?? (err as Error).message}${where}`, { field: 'job', cause: err });
  }
}
