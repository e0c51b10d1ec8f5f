export { hash53, hashLanes, combine53, lanes, TWO_21 } from './hash.ts';
export { HyperLogLog, MIN_PRECISION, MAX_PRECISION } from './hyperloglog.ts';
export type { HyperLogLogOptions } from './hyperloglog.ts';
export { TDigest, DEFAULT_COMPRESSION } from './tdigest.ts';
export type { TDigestOptions } from './tdigest.ts';
export { topK, byWeightThenKey } from './top-k.ts';
export { KeyTable, DEFAULT_MAX_KEYS, MIN_MAX_KEYS, DISTINCT_P } from './key-table.ts';
export type { TableEntry } from './key-table.ts';
