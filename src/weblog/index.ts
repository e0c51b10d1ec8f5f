export {
  DEFAULT_STATIC_EXTENSIONS,
  KEYPHRASE_PARAMS,
  STATUS_CLASS_NAMES,
  hostMatcher,
  isStaticPath,
  keyphraseOf,
  referrerHost,
  searchEngineOf,
  searchTermsOf,
  statusClass,
  statusName,
} from './web-terms.ts';
export { AccessLogState, HOUR_P, DAY_P, PERIOD_P, RequestEntry, NotFoundEntry, ReferrerEntry, AgentEntry, HostEntry, DayBucket, HourBucket } from './access-log-state.ts';
export type { AccessLogConfig, RequestPart } from './access-log-state.ts';
export { ClicksState, addVisitorClicks, clickSortKey, clickValue, TIME_BIAS } from './clicks-state.ts';
export type { SessionRules } from './clicks-state.ts';
export {
  analysisResultSchema,
  analysisDefinitionsSchema,
  totalsSchema,
  statusCodesSchema,
  timelineSchema,
  topListSchema,
  topRowSchema,
  distributionSchema,
  sessionsSchema,
  funnelSchema,
  funnelStepSchema,
  clickPathsSchema,
  clickPathRowSchema,
  clicksDefinitionsSchema,
  clicksResultSchema,
  durationBucketSchema,
  pagesPerSessionRowSchema,
} from './analysis-result.ts';
export type { AnalysisResult, ClicksResult, ClickPathRow, Distribution, TopList, TopRow } from './analysis-result.ts';
