export { renderReport, renderReportFromRun } from './render-report.ts';
export type { RenderReportOptions } from './render-report.ts';
export { buildPanels, chartWindow } from './panels.ts';
export type { Panel, ReportData } from './panels.ts';
export {
  analysisResultSchema,
  reportInputSchema,
  topListSchema,
  topRowSchema,
  distributionSchema,
  sessionsSchema,
  funnelSchema,
} from './analysis-result.ts';
export type { AnalysisResult, ReportInput, TopList, TopRow, Distribution } from './analysis-result.ts';
export { DEFAULT_STATIC_EXTENSIONS, isStaticPath, referrerHost, searchEngineOf, keyphraseOf, searchTermsOf, statusName, statusClass } from './web-terms.ts';
