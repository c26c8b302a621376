// What the relay reads off a result as it arrives: whether its rows go through an output plan, the
// detectors and formats that plan is built with, a DataRow's column count, and the rows a command tag
// reports.

import { allDetectors, type ResultField } from '../enforce/output-plan.ts';
import type { Detector } from '../enforce/content-detectors.ts';
import type { DetectRule } from '../policy/types.ts';
import { payloadInt16, type Frame } from '../wire/framer.ts';
import type { ResultContext } from './pending.ts';

/** Whether rows of this context go through an output plan (masks to back up, or detectors to run). */
export function filtering(ctx: ResultContext): boolean {
  return ctx.masks.length > 0 || ctx.detections.length > 0;
}

export function detectionsOf(decision: ResultContext['statements'][number]['decision']): readonly DetectRule[] {
  return decision.action === 'mask' ? (decision.detections ?? []) : [];
}

/** Every detector the statement whose results are arriving asks for, or null. */
export function detectorOf(ctx: ResultContext): Detector | null {
  if (ctx.detections.length === 0) return null;
  const current = ctx.statements[ctx.index];
  return allDetectors(current === undefined ? ctx.detections : detectionsOf(current.decision));
}

/** The fields with the formats a Bind asked for: none = all text, one = all that, else one per column. */
export function withFormats(fields: readonly ResultField[], formats: readonly number[]): ResultField[] {
  // Object.assign rather than `{ ...f, format }`: the same object, without V8's slow path for a
  // spread followed by more properties (a few µs per field, per statement; see decision-point.ts stamp).
  if (formats.length === 0) return fields.map((f) => Object.assign({}, f, { format: 0 }));
  return fields.map((f, i) => Object.assign({}, f, { format: formats.length === 1 ? formats[0]! : (formats[i] ?? 0) }));
}

/** The column count a DataRow declares (its first int16), read in place: a row relayed as it came needs no view of it. */
export function columnCount(frame: Frame): number {
  return payloadInt16(frame, 0) ?? -1;
}

/** Rows affected, from a command tag ("INSERT 0 5", "UPDATE 3", "SELECT 10"), else rows counted. */
export function rowCount(tag: string, counted: number): number | null {
  const m = /(\d+)$/.exec(tag);
  if (m) return Number(m[1]);
  return counted > 0 ? counted : null;
}
