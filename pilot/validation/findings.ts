// Collects the diagnostics of one object: every finding carries the object reference, a stable
// code and a field path, so the webhook, the CLI and status can all point at the exact field.
import type { Diagnostic, ObjectRef, Severity } from "../model/diagnostic.ts";

export type Json = Record<string, unknown>;

/** The value as a mapping, or an empty one (shape errors are reported by the schema check). */
export const asObj = (v: unknown): Json =>
  v && typeof v === "object" && !Array.isArray(v) ? (v as Json) : {};
export const asArr = (v: unknown): unknown[] => (Array.isArray(v) ? v : []);
export const asStr = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
export const asNum = (v: unknown): number | undefined => (typeof v === "number" ? v : undefined);
export const isSet = (v: unknown): boolean =>
  v !== undefined && v !== null && !(typeof v === "object" && Object.keys(v as object).length === 0);

export class Findings {
  readonly list: Diagnostic[] = [];
  constructor(readonly ref: ObjectRef) {}

  add(severity: Severity, code: string, path: string, message: string): void {
    this.list.push({ code, severity, message, ref: this.ref, ...(path ? { path } : {}) });
  }
  error(code: string, path: string, message: string): void {
    this.add("error", code, path, message);
  }
  warn(code: string, path: string, message: string): void {
    this.add("warning", code, path, message);
  }
  info(code: string, path: string, message: string): void {
    this.add("info", code, path, message);
  }
}
