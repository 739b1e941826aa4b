// Public surface of analysis: cross-object checks over everything read, with istioctl's codes.
export { type AnalyzeOptions, analyzeInput, formatText } from "./analyze.ts";
export { ANALYSIS_CODES, type AnalysisMessage } from "./codes.ts";
export { type AnalysisInput, analysisInput, defaultIngressGateway, type RawObject } from "./input.ts";
