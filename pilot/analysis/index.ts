// Public surface of analysis: cross-object checks over a SnapshotInput, with istioctl's codes.
export { type AnalyzeOptions, analyzeInput, formatText } from "./analyze.ts";
export { ANALYSIS_CODES, type AnalysisMessage } from "./codes.ts";
