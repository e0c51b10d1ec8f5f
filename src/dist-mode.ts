/**
 * True in the esbuild bundle under dist/ (scripts/build.mjs defines the constant), false when the
 * TypeScript sources run through tsx. Decides where built-in jobs and the task thread are loaded from.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';

declare const __GEARTRAIN_DIST__: boolean | undefined;
export const RUNNING_FROM_DIST: boolean = typeof __GEARTRAIN_DIST__ !== 'undefined' && __GEARTRAIN_DIST__;

/**
 * The package's root directory. This module is src/dist-mode.ts, or bundled into dist/*.mjs: one
 * level below the root either way.
 */
export const PACKAGE_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
