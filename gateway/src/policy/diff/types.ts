// The policy diff contract: the inputs compared, what each engine decided at each commit, and the
// report every renderer (text, markdown, JSON) reads.

import type { DecisionAction, EngineKind, MaskStrategy, PolicyInput } from '../types.ts';

/** Where an input came from: a case of the policy-tests, or statements from an audit log. */
export type InputOrigin =
  /** side: the commit(s) whose policy-tests hold the case, or 'cases-dir' for --cases. */
  | { type: 'case'; name: string; file: string; line: number; side: 'base' | 'head' | 'both' | 'cases-dir' }
  | { type: 'audit'; file: string; records: number };

/** One distinct policy input, with everything that produced it. */
export interface DiffInput {
  /** Stable key of the input (canonical JSON, the per-connection session id left out). */
  key: string;
  input: PolicyInput;
  /** The engines to ask: a case limited to some engines is only evaluated under those. */
  engines: EngineKind[];
  origins: InputOrigin[];
}

/** What the diff compares of a verdict: the action, the deciding policies and the masks (reasons may be reworded). */
export interface VerdictSummary {
  action: DecisionAction;
  policies: string[];
  masks: Array<{ table: string; column: string; strategy: MaskStrategy }>;
  reason: string;
}

/** One masked column whose treatment differs between the commits; null: not masked on that side. */
export interface MaskChange {
  table: string;
  column: string;
  base: MaskStrategy | null;
  head: MaskStrategy | null;
}

/** One input whose decision changed under one or more engines (engines with the same change share an entry). */
export interface InputChange {
  key: string;
  input: PolicyInput;
  origins: InputOrigin[];
  engines: EngineKind[];
  base: VerdictSummary;
  head: VerdictSummary;
  /** Which parts differ. */
  changed: Array<'action' | 'policies' | 'masks'>;
  masks: MaskChange[];
}

export interface CommitSide {
  /** The ref as given (branch, tag, hash). */
  ref: string;
  commit: string;
  subject: string;
}

export interface PolicyDiffReport {
  repository: string;
  base: CommitSide;
  head: CommitSide;
  engines: EngineKind[];
  counts: {
    /** Distinct inputs evaluated (cases and audited statements, deduplicated). */
    inputs: number;
    /** Distinct inputs whose decision changed under at least one engine. */
    changed: number;
    /** Cases read (from both commits, before deduplication). */
    cases: number;
    /** Audited 'statement' records read with an input. */
    auditRecords: number;
    /** Changed inputs per engine. */
    changedByEngine: Partial<Record<EngineKind, number>>;
  };
  changes: InputChange[];
  /** Things the reader should know: case files that did not load, audit lines skipped, cases decided by the gateway. */
  warnings: string[];
}
