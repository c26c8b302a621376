// The policy contract: one versioned input every engine reads, one decision shape every engine returns.
// JSON Schemas: schemas/policy-input.schema.json and schemas/decision.schema.json.

import type { CopyFacts, StatementKind } from '../sql/facts.ts';

export const POLICY_INPUT_VERSION = 2 as const;

/** Who is asking: from the verified JWT. */
export interface Identity {
  subject: string;
  issuer: string;
  groups: string[];
  roles: string[];
  /** Email or name claim when present, for humans reading audit records. */
  name: string | null;
}

export interface SessionInfo {
  id: string;
  clientAddress: string;
  applicationName: string;
  /** The database name the client asked for in its StartupMessage. */
  database: string;
  /** The user name the client sent in its StartupMessage (not trusted; identity comes from the JWT). */
  user: string;
  tls: boolean;
}

/** A user trigger a write can fire (statement.triggers). */
export interface PolicyTrigger {
  name: string;
  /** "schema.name" of the relation it is on. */
  table: string;
  /** "schema.name" of its function. */
  function: string;
  /** The function's language (plpgsql, sql, c, ...). */
  language: string;
  security_definer: boolean;
  timing: 'before' | 'after' | 'instead_of';
  level: 'row' | 'statement';
  /** Lower-case: insert, update, delete, truncate. */
  events: string[];
  /**
   * "sha256:" and the hex digest of the function's definition as the snapshot read it (language, owner,
   * SECURITY DEFINER, SET options, object file and source): a `reviewed` entry "schema.name@sha256:..."
   * vouches for this definition only (enforce/trigger-review.ts). Absent in inputs recorded before.
   */
  function_digest?: string;
}

/** The versioned input every engine reads. Field names are snake_case on the wire (JSON). */
export interface PolicyInput {
  version: typeof POLICY_INPUT_VERSION;
  identity: {
    subject: string;
    issuer: string;
    groups: string[];
    roles: string[];
    name: string | null;
  };
  session: {
    id: string;
    client_address: string;
    application_name: string;
    database: string;
    user: string;
    tls: boolean;
  };
  statement: {
    text: string;
    fingerprint: string;
    protocol: 'simple' | 'extended';
    kind: StatementKind;
    command: string;
    tables_read: string[];
    tables_written: string[];
    columns: Record<string, string[]>;
    functions: string[];
    /**
     * Functions called that are not built in (SQL or PL functions outside pg_catalog and
     * information_schema, as the database's catalog says): they can read any table themselves. Also
     * those a write runs through defaults, CHECK and domain constraints and index expressions of the
     * tables it reaches, and the user operators and domain or range types named (as written).
     * Absent in inputs recorded before it existed.
     */
    user_functions?: string[];
    /**
     * Enabled user triggers a write of the statement can fire: those of every table it writes, of
     * their partitions and child tables, of the tables an updatable view it writes reads or a rule
     * of a written table names, of the tables foreign-key actions (CASCADE, SET NULL, SET DEFAULT)
     * of those write, and for TRUNCATE of the tables referencing one (CASCADE), as the
     * database's catalog says; whatever their events (each lists its own). A trigger's function
     * reads any table raw. Absent in inputs recorded before it existed.
     */
    triggers?: PolicyTrigger[];
    /**
     * The qualified functions of `triggers`, and the user functions their WHEN conditions call (they
     * run on each row too), each once (for allow-lists, and for Cedar).
     */
    trigger_functions?: string[];
    /**
     * Functions the statement's writes run (triggers' functions, their WHEN conditions', and those the
     * written tables' defaults, generated columns, CHECK constraints, index expressions, domains and
     * column types call) that Gatehouse's upstream role could replace or alter while the write runs: it
     * owns them, can become (SET ROLE) their owner, or is a superuser, as PostgreSQL's pg_has_role says.
     * Gatehouse refuses a write under a mask that runs any (0A000, enforce/replaceable-functions.ts), whatever
     * the policy says; a policy may deny more. Absent in inputs recorded before it existed.
     */
    replaceable_functions?: string[];
    /** Calls a function that runs SQL, or reads a relation, named by a value (policy/sql-text-functions.ts). */
    runs_sql_text: boolean;
    has_where: boolean;
    /** An UPDATE or DELETE without WHERE, or a TRUNCATE, anywhere in the statement (sql/unbounded-writes.ts). */
    unbounded_writes: boolean;
    /** A SELECT ... FOR UPDATE/NO KEY UPDATE/SHARE/KEY SHARE anywhere in the statement (sql/row-locks.ts). */
    locks_rows: boolean;
    has_limit: boolean;
    writes: boolean;
    cte_writes: boolean;
    explain_analyze: boolean;
    inner_kind: StatementKind | null;
    prepared_name: string | null;
    copy: CopyFacts | null;
    setting: string | null;
    /**
     * Every run-time parameter the statement sets or resets, wherever written (SET, RESET,
     * set_config(), ALTER ... SET, a function's SET clause, UPDATE pg_settings): lower-case names,
     * "all" for RESET ALL and DISCARD ALL, "*" for a name Gatehouse cannot know (policy/setting-names.ts).
     */
    settings: string[];
  };
}

export const DECISION_ACTIONS = ['allow', 'mask', 'approve', 'deny'] as const;
export type DecisionAction = (typeof DECISION_ACTIONS)[number];

/** How a masked value is rewritten. */
export const MASK_STRATEGIES = [
  'redact', // replaced by a fixed marker: '***'
  'null', // replaced by SQL NULL
  'hash', // replaced by a keyed hash (hex), stable for one key across sessions and restarts, so joins and grouping still work
  'last4', // all but the last four characters replaced by '*'
  'fake_ssn', // a well-formed but invalid SSN (area 9xx) derived from the keyed hash
  'fake_phone', // a fictional phone number (555-01xx) derived from the keyed hash
  'fake_email', // an address at example.invalid derived from the keyed hash
  'fake_date', // a date in the same year, its day derived from the keyed hash
] as const;

/** How a masked value is rewritten (see MASK_STRATEGIES). */
export type MaskStrategy = (typeof MASK_STRATEGIES)[number];

/**
 * When two rules mask the same column, the one that reveals less wins: null (nothing, not even
 * whether a value exists) > redact (only that a value exists) > hash and the fakes (equality between
 * values; a fake also its format) > fake_date (equality and the year) > last4 (part of the value).
 */
export const MASK_STRENGTH: Record<MaskStrategy, number> = {
  last4: 0,
  fake_date: 1,
  fake_phone: 2,
  fake_email: 3,
  fake_ssn: 4,
  hash: 5,
  redact: 6,
  null: 7,
};

/**
 * Content detectors a policy may ask for on a column: identifiers found inside the value (free text,
 * JSON) are replaced by a label such as [SSN] (enforce/content-detectors.ts), in the order listed.
 */
export const DETECTOR_NAMES = [
  'dob', // a date right after a birth cue ("DOB", "date of birth", "born")
  'mrn', // a medical record number (configurable pattern; default "MRN" and the number after it)
  'email', // an email address
  'ip', // an IPv4 or IPv6 address
  'ssn', // a US Social Security number (123-45-6789, or nine digits after an "SSN" cue)
  'card', // a payment card number (known issuer prefix and length, Luhn-checked)
  'phone', // a NANP phone number ((202) 555-0143, 202-555-0143, +1 202 555 0143)
] as const;

export type DetectorName = (typeof DETECTOR_NAMES)[number];

/**
 * Content detection on one column of a table, or on every column ("*"). Rules for the same (table,
 * column) are unioned: every detector any of them names runs.
 */
export interface DetectRule {
  /** Qualified table, "schema.name". */
  table: string;
  /** A column name, or "*" for every column of the table. */
  column: string;
  /** Distinct, in DETECTOR_NAMES order. */
  detectors: DetectorName[];
  /** The policy ids that asked for it, sorted. */
  policies: string[];
}

export interface MaskRule {
  /** Qualified table, "schema.name". */
  table: string;
  column: string;
  strategy: MaskStrategy;
  /** The policy id that asked for it. */
  policy: string;
}

/**
 * What an `approve` verdict asks of the people who answer it (policy/approval-requirements.ts):
 * from a Rego approve entry's fields or a Cedar policy's annotations.
 */
export interface ApprovalRequirements {
  /** Groups or roles whose members may answer; sorted, non-empty. */
  approvers: string[];
  /** Distinct approvers needed (1 or more). */
  quorum: number;
  /** How long the request waits for its answers before it expires. */
  ttlSeconds: number;
  /** Whether the requester must give a reason (a "reason:" comment in the statement, approvals/requester-reason.ts). */
  reasonRequired: boolean;
  /** The longest time-boxed grant an approver may give instead of a one-off approval; 0: none. */
  grantMaxSeconds: number;
}

/** What one engine says about one input, before the gateway adds ids and stamps. */
export interface EngineVerdict {
  action: DecisionAction;
  reason: string;
  /** Ids of the policies that determined the action. */
  policies: string[];
  /** For action 'mask' (and also kept when a stronger action wins, for the audit record). */
  masks: MaskRule[];
  /**
   * Content detection asked for (action 'mask'; kept like masks when a stronger action wins).
   * Absent or empty: none. A column both masked and detected is masked: the mask already hides it.
   */
  detections?: DetectRule[];
  /** For action 'approve': what the answer needs (several approve rules combined). */
  approval?: ApprovalRequirements;
  /**
   * Trigger functions of the statement (statement.trigger_functions) the policy vouches for: reviewed,
   * they read nothing masked (Rego: the `reviewed` set of the verdict; Cedar: `@reviewed` annotations).
   * Under a mask, a write that can fire a user trigger function not listed here is refused
   * (enforce/trigger-review.ts). Absent or empty: none. Sorted.
   */
  reviewed?: string[];
}

export type EngineKind = 'rego' | 'cedar';

/** A decision as enforced and audited. */
export interface Decision extends EngineVerdict {
  id: string;
  engine: EngineKind;
  /** The policy revision that produced it: a git commit hash, or "dir:<sha256>" for a plain directory. */
  revision: string;
  /** Evaluation time in microseconds. */
  evalMicros: number;
}

/** A loaded, compiled policy set for one revision. Compile once, evaluate many. */
export interface PolicyEngine {
  readonly kind: EngineKind;
  readonly revision: string;
  /**
   * Whether a verdict depends on nothing but the input (no clock, randomness or network), so the
   * gateway may reuse it for the same input under the same revision.
   */
  readonly deterministic: boolean;
  /**
   * The parts of the input its policies can read (policy/input-reads.ts): a verdict holds for every
   * input that agrees on them. Absent: any part.
   */
  readonly reads?: InputReads;
  /** Never throws for a policy problem: an engine error comes back as a deny verdict. */
  evaluate(input: PolicyInput): EngineVerdict;
  /** Bytes of memory the engine holds now (Rego: its WebAssembly memory); absent: not known. */
  memoryBytes?(): number;
  /** How to build this engine again in another thread (policy/eval-pool.ts); absent: it runs only here. */
  readonly spec?: EngineSpec;
}

/** What a worker thread needs to build an engine: the compiled policy, not the engine object. */
export type EngineSpec =
  /** `module`: compiled once, shared with every worker (posting a compiled module shares its code). */
  | { kind: 'rego'; revision: string; deterministic: boolean; module: WebAssembly.Module; reads?: InputReads }
  | { kind: 'cedar'; revision: string; set: CedarPolicySet };

// The parts of the input a policy set reads (found by policy/input-reads.ts when it is loaded).

/** A part of the input: a top-level key, or a key under it (the whole value below is read). */
export type InputPath = readonly [string] | readonly [string, string];

export type InputReads =
  /** The sources may read any part (the input as a whole, or a key that is computed). */
  | { kind: 'all' }
  | { kind: 'paths'; paths: readonly InputPath[] };

// A loaded Cedar policy set (policy/cedar-policies.ts reads it).

/** What a satisfied permit (or a determining forbid) means to Gatehouse. */
export type CedarPolicyMeaning =
  | { effect: 'forbid'; reason: string | null }
  | { effect: 'permit'; outcome: 'allow'; reason: string | null }
  | { effect: 'permit'; outcome: 'approve'; reason: string; approval: ApprovalRequirements }
  | {
      effect: 'permit';
      outcome: 'mask';
      reason: string | null;
      columns: Array<{ column: string; strategy: MaskStrategy }>;
      detections: Array<{ column: string; detectors: DetectorName[] }>;
    };

export interface CedarPolicySet {
  /** Policy text by its @id: the form cedar-wasm needs to report our ids. */
  texts: Record<string, string>;
  meanings: Map<string, CedarPolicyMeaning>;
  /**
   * Trigger functions ("schema.function") the set vouches read nothing masked: the union of every
   * policy's `@reviewed("...")` annotation, whatever its effect or scope (EngineVerdict.reviewed).
   */
  reviewed: string[];
}
