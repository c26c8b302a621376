// What the gateway expects back from upstream, in order. Every message forwarded upstream that
// produces a response adds one entry, so each upstream message is attributed to the request it
// answers, and Gatehouse's own denials (swap-error) appear exactly where the client expects them.

import type { DecidedStatement } from '../enforce/decision-point.ts';
import type { MaskPlan, ResultField } from '../enforce/mask-plan.ts';
import type { MaskRule } from '../policy/types.ts';

/** A prepared statement the client created with Parse. */
export interface PreparedStatement {
  /** The client's name for it. */
  name: string;
  /**
   * The name Gatehouse gave it upstream: unique in the session and never reused, so a name
   * always means exactly the SQL Gatehouse decided on, whatever the database refused or skipped.
   * The unnamed statement keeps the empty name (PostgreSQL drops it before every Parse).
   */
  upstreamName: string;
  sql: string;
  /** RowDescription fields from a Describe of the statement, when the client asked for one. */
  fields: ResultField[] | null;
}

/** A portal the client created with Bind. */
export interface Portal {
  name: string;
  statement: PreparedStatement | null;
  fields: ResultField[] | null;
}

/** Statements whose rows are flowing back, with what masking and audit need. */
export interface ResultContext {
  statements: DecidedStatement[];
  masks: MaskRule[];
  referenced: Record<string, string[]>;
  /** Index of the statement whose results are arriving (multi-statement simple queries). */
  index: number;
  plan: MaskPlan | null;
  rows: number;
}

export type Pending =
  | { kind: 'query'; ctx: ResultContext } // simple Query: ends with ReadyForQuery
  | { kind: 'parse'; statement: PreparedStatement }
  | { kind: 'close-statement'; statement: PreparedStatement | null }
  | { kind: 'bind' }
  | { kind: 'describe'; hidden: boolean; target: PreparedStatement | Portal | null }
  | { kind: 'execute'; ctx: ResultContext; portal: Portal | null }
  | { kind: 'close' }
  | { kind: 'sync' } // ends with ReadyForQuery
  | { kind: 'swap-error'; error: Buffer } // an upstream error Gatehouse provoked, shown as its own denial
  | { kind: 'search-path'; value: string | null; failed: boolean }; // Gatehouse's own hidden probe (pg/search-path.ts)

/** A FIFO with O(1) shift (Array.shift is O(n) on long pipelines). */
export class PendingQueue {
  private items: Pending[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  peek(): Pending | undefined {
    return this.items[this.head];
  }

  push(p: Pending): void {
    this.items.push(p);
  }

  shift(): Pending | undefined {
    const p = this.items[this.head];
    if (p === undefined) return undefined;
    this.items[this.head] = undefined as unknown as Pending;
    this.head++;
    if (this.head > 64 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return p;
  }

  /** Drops entries up to (not including) the next ReadyForQuery-producing one. */
  dropUntilSync(): Pending[] {
    const dropped: Pending[] = [];
    for (let p = this.peek(); p && p.kind !== 'sync' && p.kind !== 'query'; p = this.peek()) {
      dropped.push(this.shift()!);
    }
    return dropped;
  }
}
