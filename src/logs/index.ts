export { compileLogFormat, formatRecord, LOG_FORMATS } from './format.ts';
export type { LogFormat } from './format.ts';
export type { Directive, DirectiveKind, FieldSource, FormatLayout } from './format-layout.ts';
export { requestLine } from './format-record.ts';
export { FIXED_FIELDS, DERIVED_FIELDS, FIELD_DOCS, FIELD_NAMES, GENERIC_FIELD_PREFIXES, NUMERIC_FIELDS, isFieldName, isDerivedField, unknownFieldMessage, detachString } from './fields.ts';
export type { FieldName, FixedFieldName, DerivedFieldName, GenericFieldName, FieldValue, FieldDoc, LogRecord, LogRecordFields } from './fields.ts';
export { derivedFrom, deriveField } from './derived-fields.ts';
export { LogParser, DEFAULT_MAX_LINE_LENGTH } from './parser.ts';
export type { ParserOptions, ParseResult, LineOrigin } from './parser.ts';
export { ParseStats, parseStatsSchema, INVALID_REASONS, invalidLinesOf, isInvalidReason, DEFAULT_SAMPLES_PER_REASON, SAMPLE_CHARS } from './parse-stats.ts';
export type { InvalidReason, BadLineSample, ParseStatsJSON } from './parse-stats.ts';
export { escapeLogText, escapeLogBytes, unescapeLogText } from './escape.ts';
export { formatBracketTime, daysFromCivil, civilFromDays } from './time.ts';
export {
  readLogRange,
  readLogFile,
  openLogStream,
  isGzipFile,
  planRanges,
  planFileRanges,
  forEachLine,
  countLines,
  LineChunker,
  DEFAULT_CHUNK_SIZE,
  DEFAULT_MAX_LINE_BYTES,
} from './files.ts';
export type { ByteRange, ReadOptions, LogChunkReader, LogFilePlan } from './files.ts';
export { listLogFiles, matchGlob } from './glob.ts';
export { generateLog, writeLog, LogGenerator, generateOptionsSchema, GENERATED_FORMATS, ODD_KINDS } from './generate.ts';
export type { GenerateOptions, GenerateSummary, GeneratedFormat, LineKind, OddKind } from './generate.ts';
export { classifyUserAgent, parseUserAgent, UserAgentClassifier } from './user-agent.ts';
export type { UserAgentInfo, DeviceType } from './user-agent.ts';
export {
  nodeCatalogSchema,
  shardSchema,
  catalogRequestSchema,
  parseNodeCatalog,
  parseCatalogRequest,
  CATALOG_VERSION,
  DEFAULT_TIME_TOLERANCE_MS,
} from './catalog.ts';
export type { NodeCatalog, ShardInfo, CatalogRequest } from './catalog.ts';
export { parseLogSource } from './log-sources.ts';
export type { LogSource } from './log-sources.ts';
export { LogCatalog, DEFAULT_SCAN_BUDGET_BYTES } from './node-catalog.ts';
export type { ShardLocation } from './node-catalog.ts';
export { startLogService, catalogFunction, CATALOG_FUNCTION_PREFIX, DEFAULT_INGEST_CONCURRENCY, DEFAULT_POLL_MS } from './log-service.ts';
export type { LogService, LogServiceOptions } from './log-service.ts';
export { loggerFunction, replicaFunction, LOGGER_FUNCTION, REPLICA_FUNCTION_PREFIX, PeerDiscovery } from './ingest-peers.ts';
export { normalizeBatch, dedupeKey } from './ingest-batch.ts';
export { SegmentStore, DEFAULT_MAX_SEGMENT_BYTES } from './segments.ts';
export { Shipper, DEFAULT_BATCH_LINES, DEFAULT_BATCH_MS } from './ship.ts';
export type { ShipperOptions, ShipResult } from './ship.ts';
