/**
 * The job kit: everything a job module uses, by name — `import { defineJob, HyperLogLog } from
 * 'geartrain/jobs'`. The built-in jobs (jobs/*.ts) import only this and zod, so a user's job can do
 * whatever a built-in one does. A job file run with `geartrain run ./job.ts` gets the CLI's own copy
 * of this module (and of zod) when it is bundled, wherever the file is. docs/jobs.md describes it.
 */

// ---- defining a job (docs/DESIGN.md "Jobs" and "Job kinds")
export { defineJob } from './mapreduce/job-definition.ts';
export type {
  AnyJob,
  CliSpec,
  ColumnUnit,
  InputSpec,
  JobDefinition,
  JobFamily,
  KeyedJob,
  MapContext,
  RenderedResult,
  RunInfo,
  SortedJob,
  SummaryJob,
  Table,
} from './mapreduce/job-definition.ts';
export { InvalidArgumentError } from './errors.ts';

// ---- fields of a parsed log record, derived fields (`geartrain fields` lists them)
export {
  DERIVED_FIELDS,
  FIELD_DOCS,
  FIELD_NAMES,
  NUMERIC_FIELDS,
  derivedFrom,
  deriveField,
  detachString,
  isDerivedField,
  isFieldName,
  unknownFieldMessage,
} from './logs/index.ts';
export type { DerivedFieldName, FieldDoc, FieldName, FieldValue, LogRecord } from './logs/index.ts';

// ---- the user-agent classifier
export { UserAgentClassifier, classifyUserAgent, parseUserAgent } from './logs/index.ts';
export type { DeviceType, UserAgentInfo } from './logs/index.ts';

// ---- mergeable states: exact counts, HyperLogLog, t-digest, top-K, hashes
export { addCount, createCounts, decodeCounts, mergeCounts, sortedCounts } from './sketches/counts.ts';
export type { Counts } from './sketches/counts.ts';
export { HyperLogLog, TDigest, topK, byWeightThenKey, hash53, hashLanes, combine53, lanes, KeyTable, DEFAULT_MAX_KEYS, MIN_MAX_KEYS } from './sketches/index.ts';
export type { HyperLogLogOptions, TDigestOptions, TableEntry } from './sketches/index.ts';

// ---- sorting: byte-comparable keys for sorted and keyed jobs
export { compareKeys, descendingKey, joinKeys, numberKey, textKey, uintKey } from './mapreduce/sort-keys.ts';

// ---- the web-log vocabulary: static files, referrers, search terms, status names
export { DEFAULT_STATIC_EXTENSIONS, isStaticPath, STATUS_CLASS_NAMES, statusClass, statusName } from './weblog/index.ts';
export { hostMatcher, KEYPHRASE_PARAMS, keyphraseOf, referrerHost, searchEngineOf, searchTermsOf } from './weblog/index.ts';
export { wildcardRegExp } from './wildcard.ts';

// ---- the states and result shapes of `analyze` and `clicks` (the report renders these sections)
export { AccessLogState, DAY_P, HOUR_P, PERIOD_P, ReferrerEntry, RequestEntry } from './weblog/index.ts';
export type { AccessLogConfig, RequestPart } from './weblog/index.ts';
export { ClicksState, TIME_BIAS, addVisitorClicks, clickSortKey, clickValue } from './weblog/index.ts';
export type { SessionRules } from './weblog/index.ts';
export type { AnalysisResult, ClickPathRow, ClicksResult, Distribution, TopList, TopRow } from './weblog/index.ts';

// ---- grep's parts: line selection, context groups across byte ranges, its records and output
export { checkPatterns, forEachLine, lineSelector } from './grep/match.ts';
export type { LineSelector, PatternOptions } from './grep/match.ts';
export { ContextGrouper, isGzipSync, readLinesBefore, readLinesFrom } from './grep/context.ts';
export type { GrepLine, Region } from './grep/context.ts';
export { grepFormatter } from './grep/output.ts';
export { FirstRecords, encodeGroup, keyMiddle, sortKey as grepSortKey } from './grep/record.ts';
export { carry, effectiveTime } from './grep/time.ts';
