/**
 * `npm run check:cycles`: no import cycle among the project's modules, type-only imports included
 * (a cycle of types still means two modules that cannot be read or changed apart).
 *
 * One exception, the server's data model (src/server): a job points at its function and at the
 * connections waiting on it or running it, a function at the connections that serve it, and a
 * connection at its jobs and functions. Those back-references are type-only imports of
 * function-entry.ts and connection.ts; they are skipped here, and only they.
 */
export default {
  files: ['src/**/*.ts', 'src/**/*.mjs', 'jobs/**/*.ts', 'test/**/*.ts', 'bench/**/*.ts', 'scripts/**/*.ts', 'scripts/**/*.mjs', 'examples/**/*.ts', 'bin/*.js'],
  exclude: 'node_modules',
  tree: false,
  warning: false,
  progress: false,
  circular: true,
  exitCode: 'circular:1',
  skipImports: ['src/server/job\\.ts:src/server/(function-entry|connection)\\.ts', 'src/server/function-entry\\.ts:src/server/connection\\.ts'],
};
