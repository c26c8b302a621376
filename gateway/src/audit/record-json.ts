// The JSON of an audit record without its `v` (audit/chain.ts puts v, seq and prev first), byte for
// byte what JSON.stringify writes, made with less work than JSON.stringify of the whole record
// (which, on Node 20, costs about 0.1 µs per property): plain strings are quoted without a call,
// frozen parts shared between records (a session's identity and the identity and session parts of
// its policy inputs) are serialized once while they live (policy/frozen-json.ts), and the statement
// part of a statement record's policy input, the same for every statement of one shape after
// redaction, is serialized once per shape and reused while all its fields are the same.

import { frozenJson } from '../policy/frozen-json.ts';
import type { AuditRecord } from './types.ts';

/** JSON.stringify of `record` without its `v` property. */
export function recordBody(record: AuditRecord): string {
  const r = record as unknown as Record<string, unknown>;
  const body = hasToJson(r) ? undefined : objectJson(r, 'v', record.type === 'statement' ? 'input' : null);
  if (body !== undefined) return body;
  const { v: _v, ...rest } = record;
  return JSON.stringify(rest);
}

/**
 * JSON.stringify(object) with the key `skip` left out and the value of the key `input` serialized as
 * a policy input; undefined when some value is not one this handles (the caller stringifies the whole).
 */
function objectJson(object: Record<string, unknown>, skip: string | null, input: string | null): string | undefined {
  let out = '{';
  let first = true;
  for (const key of Object.keys(object)) {
    if (key === skip) continue;
    const value = object[key];
    let json: string | undefined;
    if (typeof value === 'string') json = quote(value);
    else if (value === null) json = 'null';
    else if (typeof value === 'boolean') json = value ? 'true' : 'false';
    else if (typeof value === 'number') json = Number.isFinite(value) ? String(value) : 'null';
    else if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue; // left out, as JSON.stringify does
    else if (typeof value !== 'object' || hasToJson(value)) return undefined;
    else if (key === input) json = inputJson(value as Record<string, unknown>);
    else if (Array.isArray(value)) json = arrayJson(value);
    else json = frozenJson(value);
    if (json === undefined) return undefined;
    out += `${first ? '' : ','}${keyJson(key)}${json}`;
    first = false;
  }
  return `${out}}`;
}

/** Characters JSON.stringify escapes in a string: `"`, `\`, controls, and (when unpaired) surrogates. */
const ESCAPED = /["\\\u0000-\u001f\ud800-\udfff]/;

function quote(s: string): string {
  return ESCAPED.test(s) ? JSON.stringify(s) : `"${s}"`;
}

/** `"key":` by key (records have few distinct keys). */
const keys = new Map<string, string>();

function keyJson(key: string): string {
  let json = keys.get(key);
  if (json === undefined) {
    json = `${JSON.stringify(key)}:`;
    if (keys.size < 256) keys.set(key, json);
  }
  return json;
}

/** An array of plain strings quoted in place (policies, masks: [] most of the time); anything else by JSON.stringify. */
function arrayJson(array: unknown[]): string | undefined {
  if (array.length === 0) return '[]';
  let out = '[';
  for (let i = 0; i < array.length; i++) {
    const item = array[i];
    if (typeof item !== 'string') return frozenJson(array);
    out += `${i === 0 ? '' : ','}${quote(item)}`;
  }
  return `${out}]`;
}

/** A policy input: its statement part by shape (statementJson), its other parts frozen or small. */
function inputJson(input: Record<string, unknown>): string | undefined {
  if (Array.isArray(input)) return JSON.stringify(input);
  let out = '{';
  let first = true;
  for (const key of Object.keys(input)) {
    const value = input[key];
    if (value === undefined || typeof value === 'function' || typeof value === 'symbol') continue;
    if (typeof value === 'object' && value !== null && hasToJson(value)) return undefined;
    const json = key === 'statement' && typeof value === 'object' && value !== null && !Array.isArray(value) ? statementJson(value as Record<string, unknown>) : frozenJson(value);
    if (json === undefined) return undefined;
    out += `${first ? '' : ','}${keyJson(key)}${json}`;
    first = false;
  }
  return `${out}}`;
}

/** What one statement part's JSON was made from: its keys in order and their values (unfrozen arrays: a copy). */
interface Made {
  keys: string[];
  values: unknown[];
  json: string;
}

/** Statement parts' JSON by their text (redacted texts are few: one per shape). */
const made = new Map<string, Made>();
const MADE_LIMIT = 2048;

function statementJson(part: Record<string, unknown>): string {
  const text = part.text;
  const known = typeof text === 'string' ? made.get(text) : undefined;
  if (known !== undefined && same(known, part)) return known.json;
  const json = JSON.stringify(part);
  const kept = typeof text === 'string' ? snapshot(part, json) : null;
  if (kept !== null) {
    if (made.size >= MADE_LIMIT) made.clear();
    made.set(text as string, kept);
  }
  return json;
}

/** Whether `part` has the keys, in order, and the values `m` was made from. */
function same(m: Made, part: Record<string, unknown>): boolean {
  const now = Object.keys(part);
  if (now.length !== m.keys.length) return false;
  for (let i = 0; i < now.length; i++) {
    if (now[i] !== m.keys[i]) return false;
    const was = m.values[i];
    const value = part[now[i]!];
    if (value === was) continue;
    if (!Array.isArray(value) || !Array.isArray(was) || !samePrimitives(value, was)) return false;
  }
  return true;
}

function samePrimitives(a: unknown[], b: unknown[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * What to compare later statements' parts with, or null when a value could change unseen: kept are
 * primitives and objects frozen throughout (compared by identity: their JSON cannot change), and
 * arrays of primitives that are not (copied, compared by content: e.g. statement.settings, made
 * per statement).
 */
function snapshot(part: Record<string, unknown>, json: string): Made | null {
  const keys = Object.keys(part);
  const values: unknown[] = [];
  for (const key of keys) {
    const value = part[key];
    if (typeof value !== 'object' || value === null) {
      if (typeof value === 'function' || typeof value === 'symbol' || typeof value === 'bigint') return null;
      values.push(value);
    } else if (deepFrozenData(value)) {
      values.push(value);
    } else if (Array.isArray(value) && value.every((x) => x === null || typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean')) {
      values.push([...value]);
    } else {
      return null;
    }
  }
  return { keys, values, json };
}

/** Frozen all the way down, plain data only (no toJSON anywhere). */
function deepFrozenData(value: object): boolean {
  if (!Object.isFrozen(value) || hasToJson(value)) return false;
  for (const v of Object.values(value)) {
    if (typeof v === 'function' || typeof v === 'symbol' || typeof v === 'bigint') return false;
    if (typeof v === 'object' && v !== null && !deepFrozenData(v)) return false;
  }
  return true;
}

function hasToJson(value: object): boolean {
  return typeof (value as { toJSON?: unknown }).toJSON === 'function';
}
