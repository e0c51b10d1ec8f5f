export { renderReport, renderReportFromRun } from './render-report.ts';
export type { RenderReportOptions } from './render-report.ts';
export { buildPanels, chartWindow } from './panels.ts';
export type { Panel, ReportData } from './panels.ts';
export { reportInputSchema } from './report-input.ts';
export type { ReportInput } from './report-input.ts';
