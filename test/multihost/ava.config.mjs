// The multi-host test bed (test/helpers/netns.ts): tests over network namespaces, one file at a
// time and one test at a time, as root. `npm test` leaves this directory out; run it with
//   npx ava --config test/multihost/ava.config.mjs [test/multihost/FILE.test.ts]
// (.ci/run does). A `.pending.ts` file holds tests of behaviour still to build; it is enabled by
// renaming it to `.test.ts`.
export default {
  files: ['test/multihost/**/*.test.ts'],
  extensions: { ts: 'module' },
  nodeArguments: ['--import=tsx'],
  workerThreads: false,
  serial: true,
  concurrency: 1,
  timeout: '4m',
};
