/**
 * True in the esbuild bundle under dist/ (scripts/build.mjs defines the constant), false when the
 * TypeScript sources run through tsx. Decides where built-in jobs and the task thread are loaded from.
 */
declare const __GEARTRAIN_DIST__: boolean | undefined;
export const RUNNING_FROM_DIST: boolean = typeof __GEARTRAIN_DIST__ !== 'undefined' && __GEARTRAIN_DIST__;
