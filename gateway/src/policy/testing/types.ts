// The policy test contract: what a case file holds once loaded, and the report every runner and reporter shares.

import type { DecisionAction, DetectorName, EngineKind, MaskStrategy, PolicyInput } from '../types.ts';
import type { PolicyWarning } from '../review-warnings.ts';

export const POLICY_TEST_VERSION = 1 as const;

/** One expected mask, compared as a set on (table, column, strategy). */
export interface ExpectedMask {
  table: string;
  column: string;
  strategy: MaskStrategy;
}

/** One expected content detection, compared as a set on (table, column, set of detectors). */
export interface ExpectedDetection {
  table: string;
  column: string;
  detectors: DetectorName[];
}

export interface CaseExpectation {
  decision: DecisionAction;
  /** The exact set of deciding policy ids; absent: not checked. */
  policies?: string[];
  /** The exact set of masks in the verdict; absent: not checked. */
  masks?: ExpectedMask[];
  /** The exact set of content detections in the verdict; absent: not checked. */
  detections?: ExpectedDetection[];
  /** A substring the verdict's reason must contain. */
  reason_contains?: string;
  /** The exact set of the verdict's reviewed trigger functions (EngineVerdict.reviewed); absent: not checked. */
  reviewed?: string[];
  /** What an approve verdict asks of its approvers, written as in a policy; absent: not checked. */
  approval?: ExpectedApproval;
}

/** An approve verdict's requirements as a case writes them (durations such as "1h"; absent grant: none). */
export interface ExpectedApproval {
  approvers: string[];
  quorum?: number;
  ttl?: string;
  reason_required?: boolean;
  grant?: string;
}

export interface CaseIdentity {
  subject: string;
  groups?: string[];
  roles?: string[];
  issuer?: string;
  name?: string;
}

export interface CaseSession {
  database?: string;
  application_name?: string;
  tls?: boolean;
  user?: string;
}

/** What the case decides: a SQL string through the parser, or a hand-written statement part of the input. */
export type CaseStatement =
  | { type: 'sql'; sql: string; protocol: 'simple' | 'extended'; searchPath: string[] }
  | { type: 'input'; statement: Partial<PolicyInput['statement']> };

/** A case as loaded from a file, with where it came from. */
export interface PolicyTestCase {
  name: string;
  /** The case file, relative to the run's root, with "/" separators. */
  file: string;
  /** 1-based line of the case in its file. */
  line: number;
  identity: CaseIdentity;
  session: CaseSession;
  statement: CaseStatement;
  /** The engines this case runs against (default both). */
  engines: EngineKind[];
  expect: CaseExpectation;
}

export type PolicyTestStatus = 'passed' | 'failed' | 'error';

export interface PolicyTestResult {
  name: string;
  /** Relative to the report's root, "/" separators. */
  file?: string;
  /** 1-based. */
  line?: number;
  status: PolicyTestStatus;
  /** Why it failed (several lines allowed); absent for a pass. */
  message?: string;
  durationMs: number;
}

export interface PolicyTestSuite {
  /** e.g. "opa test policies/rego", "cedar validate", "cases rego", "cases cedar", "engines agree". */
  name: string;
  results: PolicyTestResult[];
}

export interface PolicyTestReport {
  /** True when every result of every suite passed (and there was something to test). */
  ok: boolean;
  suites: PolicyTestSuite[];
  /** The absolute directory result files are relative to. */
  root: string;
  /** What the policies vouch for that deserves a second look (policy/review-warnings.ts); they do not fail the tests. File paths relative to `root`. */
  warnings?: PolicyWarning[];
}
