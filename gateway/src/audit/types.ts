// The audit record contract (schemas/audit-record.schema.json): one "statement" record written
// before a statement is forwarded, one "outcome" record with the same decision id after it.

import type { DecisionAction, DetectorName, EngineKind, MaskRule, PolicyInput } from '../policy/types.ts';
import type { REDACTED_STATEMENT } from './redacted-statement.ts';
import type { SubjectsRecord } from './subjects.ts';

export const AUDIT_RECORD_VERSION = 1 as const;

export type StatementOutcome =
  | { status: 'ok'; command_tag: string | null; rows: number | null }
  | { status: 'error'; sqlstate: string; message: string }
  // Gatehouse refused it and it did not run; `reason` when the refusal came after it was forwarded (a lock
  // Gatehouse took ahead of its query string could not be had: enforce/lock-prefix.ts).
  | { status: 'refused'; sqlstate: string; reason?: string }
  | { status: 'aborted' }; // the session ended before the outcome was known

export type AuditRecord =
  | {
      v: typeof AUDIT_RECORD_VERSION;
      type: 'statement';
      time: string;
      decision_id: string;
      session_id: string;
      identity: PolicyInput['identity'] | null;
      client_address: string;
      application_name: string;
      statement: string;
      /**
       * `statement` with its literals out, as the decision redacted it (audit/redacted-statement.ts):
       * the sink's redaction takes it instead of redacting the text again. Never written (a symbol key).
       */
      [REDACTED_STATEMENT]?: string;
      /** The statement as forwarded, when masks at the source rewrote it. */
      forwarded?: string;
      /**
       * With audit.breakglass_key: the statement as sent (literals included), the forwarded text and
       * the bound parameters, as a compact JWE to the break-glass key (audit/seal.ts).
       */
      sealed?: string;
      fingerprint: string;
      /** The complete policy input (null when the statement could not be parsed). */
      input: PolicyInput | null;
      decision: DecisionAction;
      reason: string;
      policies: string[];
      masks: Omit<MaskRule, 'policy'>[];
      engine: EngineKind | null;
      revision: string | null;
    }
  | {
      v: typeof AUDIT_RECORD_VERSION;
      type: 'outcome';
      time: string;
      decision_id: string;
      session_id: string;
      /** Who ran it and under which policy revision, as in the statement record. */
      identity: PolicyInput['identity'];
      revision: string;
      outcome: StatementOutcome;
      /** Identifiers the content detectors replaced in what the client received, by detector (absent: none). */
      detected?: Partial<Record<DetectorName, number>>;
      /**
       * For a statement that read or wrote a table marked as holding PHI (audit.phi_tables): per table,
       * keyed hashes of the subjects of the rows returned or written, or why they are unknown (audit/subjects.ts).
       */
      subjects?: SubjectsRecord;
    }
  | {
      v: typeof AUDIT_RECORD_VERSION;
      type: 'session';
      time: string;
      session_id: string;
      event: 'auth_ok' | 'auth_failed' | 'closed' | 'protocol_error';
      client_address: string;
      application_name: string;
      identity: PolicyInput['identity'] | null;
      reason: string | null;
    }
  | {
      v: typeof AUDIT_RECORD_VERSION;
      type: 'policy';
      time: string;
      event: 'activated' | 'refused';
      revision: string;
      engine: EngineKind;
      reason: string | null;
    }
  | {
      v: typeof AUDIT_RECORD_VERSION;
      type: 'checkpoint';
      time: string;
      /** The chain head it covers (the same as in the signed payload, for people reading the log). */
      covers: { seq: number; head: string };
      /** Compact JWS (Ed25519) over a CheckpointPayload (audit/checkpoint.ts). */
      jws: string;
    }
  | {
      v: typeof AUDIT_RECORD_VERSION;
      type: 'sink';
      time: string;
      /** opened: the gateway started writing; recovered: writing resumed after an outage. */
      event: 'opened' | 'recovered';
      /** For recovered: since when records could not be written, why, and how many statements were refused meanwhile. */
      outage: { since: string; reason: string; refused: number; outcomes_lost: number } | null;
    }
  | ApprovalAuditRecord;

/** A held statement's request, its answers and its end (approvals/), linked by decision_id. */
export interface ApprovalAuditRecord {
  v: typeof AUDIT_RECORD_VERSION;
  type: 'approval';
  time: string;
  event: 'requested' | 'answered' | 'approved' | 'denied' | 'expired' | 'withdrawn' | 'void' | 'grant_revoked';
  request_id: string;
  decision_id: string;
  session_id: string;
  fingerprint: string;
  revision: string;
  /** The approver or revoker; null for the gateway itself (expiry, withdrawal, void). */
  actor: { subject: string; issuer: string; name: string | null } | null;
  state: 'pending' | 'approved' | 'denied' | 'expired' | 'withdrawn' | 'void';
  verdict?: 'approve' | 'deny';
  comment?: string;
  reason?: string;
  grant?: { id: string; expires_at: string };
}

/** A record as it stands in the log: linked into the hash chain (audit/chain.ts). */
export type ChainedRecord = AuditRecord & { seq: number; prev: string };

/** Where audit records go. */
export interface AuditSink {
  /**
   * Hands the record (and any deferred ones before it) to storage before returning, or throws (a full
   * disk, an outage). A sink may write what it accepted later in the same turn (the file sink,
   * preallocated, writes each turn's records together at its end): whenDurable() covers it either way.
   */
  write(record: AuditRecord): void;
  /**
   * Queues a record that need not be out before the caller goes on (a statement's outcome): it is
   * written together with the next write(), or within a short delay, or at close.
   */
  writeSoon(record: AuditRecord): void;
  /**
   * Calls `done` once every record written so far is durable (fsynced, with one flush shared by
   * everything written meanwhile), or with the error that makes that unknown. The session forwards
   * a statement upstream only from this callback: write-ahead.
   */
  whenDurable(done: (error: Error | null) => void): void;
  /**
   * Writes now what write() accepted but left for the end of the turn (a sink that writes at once
   * has nothing to do). The session calls it before anything goes to a client, so that no client
   * hears of a statement (a refusal, say) before its record is in the log. A failure is handled as a
   * failed write (the sink refuses until it recovers), not thrown.
   */
  writeAccepted?(): void;
  close(): Promise<void>;
}
