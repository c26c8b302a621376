// Which notifications on the peers' channel make statements wait for a fresh catalog read (red-team
// round 14, R14-4): anyone who can connect to the database can notify the channel, and before this every
// notification made every statement naming a relation wait for a read. Now notifications from a backend
// that is another Gatehouse instance's peers connection (its login role is this instance's and its
// application_name is gatehouse-catalog:peers, read from pg_stat_activity) always do; the others (the
// event trigger's, sent by whichever backend ran the DDL, and anyone's) do within a budget (a token bucket:
// `burst` at once, `perSecond` after that). Beyond it they refresh the catalog in the background only
// (stale-while-revalidate: statements keep deciding with the snapshot they have), at most one read per
// `backgroundEveryMs` and always one after the flood's last notification; the operator log says so once
// per flood, naming the sender's pid, role and application_name.

/** One backend as pg_stat_activity shows it. */
export interface PeerSender {
  pid: number;
  role: string;
  applicationName: string;
  /** Another Gatehouse instance's peers connection: same login role, application_name gatehouse-catalog:peers. */
  peer: boolean;
}

export interface PeerBudget {
  /** Notifications from other senders that are waited for at once (the bucket's size). */
  burst: number;
  /** ... and per second after that (the bucket's refill). */
  perSecond: number;
  /** Beyond the budget: at most one background read this often, one always following the last notification. */
  backgroundEveryMs: number;
}

export const DEFAULT_PEER_BUDGET: PeerBudget = { burst: 5, perSecond: 2, backgroundEveryMs: 1_000 };

/** What became of one notification. */
export type PeerNotice = 'change' | 'background' | 'pending';

export interface PeerGateOptions {
  budget: PeerBudget;
  /** The backends among `pids` and every peers connection of the database (one query; may reject). */
  senders(pids: number[]): Promise<PeerSender[]>;
  /** The catalog changed: read it again, statements wait for that read. */
  change(): void;
  /** Read the catalog again in the background (unless a read is in flight); nothing waits. */
  background(): void;
  log?: (message: string) => void;
  now?: () => number;
}

/** A flood: from the first notification over the budget until the bucket is full again. */
interface Flood {
  notices: number;
  /** Whether the operator log has named a sender of it. */
  logged: boolean;
}

export class PeerNotificationGate {
  private tokens: number;
  private refilledAt: number;
  /** Senders read from pg_stat_activity during this flood (pids are reused: forgotten when it ends). */
  private readonly known = new Map<number, PeerSender>();
  /** Pids to read at the next lookup; at most one lookup in flight. */
  private readonly unknown = new Set<number>();
  private looking = false;
  private flood: Flood | null = null;
  /** When background() was last called, and the call owed after it (trailing edge). */
  private backgroundAt = -Infinity;
  private trailing: NodeJS.Timeout | null = null;
  private readonly now: () => number;

  constructor(private readonly options: PeerGateOptions) {
    this.now = options.now ?? Date.now;
    this.tokens = options.budget.burst;
    this.refilledAt = this.now();
  }

  /** A notification from backend `pid` (not this instance's own). */
  notified(pid: number): PeerNotice {
    this.refill();
    if (this.flood !== null && this.tokens >= this.options.budget.burst) this.endFlood();
    const sender = this.known.get(pid);
    if (sender?.peer === true) return this.change();
    if (this.tokens >= 1) {
      this.tokens--;
      return this.change();
    }
    if (this.flood === null) this.flood = { notices: 0, logged: false };
    this.flood.notices++;
    this.backgroundRead();
    if (sender !== undefined) return 'background';
    // Not read yet: it may be a peer whose change must be waited for.
    this.unknown.add(pid);
    void this.lookup();
    return 'pending';
  }

  /** Whether notifications are over the budget now (for tests and status). */
  flooded(): boolean {
    return this.flood !== null;
  }

  /** Stops the owed background read (the connection is closing). */
  close(): void {
    if (this.trailing !== null) clearTimeout(this.trailing);
    this.trailing = null;
  }

  /** A background read now if none was asked for within backgroundEveryMs, else one when that has passed. */
  private backgroundRead(): void {
    if (this.trailing !== null) return;
    const wait = this.backgroundAt + this.options.budget.backgroundEveryMs - this.now();
    if (wait <= 0) {
      this.backgroundAt = this.now();
      this.options.background();
      return;
    }
    this.trailing = setTimeout(() => {
      this.trailing = null;
      this.backgroundAt = this.now();
      this.options.background();
    }, wait);
    this.trailing.unref();
  }

  private change(): 'change' {
    this.options.change();
    return 'change';
  }

  private refill(): void {
    const now = this.now();
    const { burst, perSecond } = this.options.budget;
    this.tokens = Math.min(burst, this.tokens + ((now - this.refilledAt) / 1000) * perSecond);
    this.refilledAt = now;
  }

  private endFlood(): void {
    const f = this.flood;
    this.flood = null;
    this.known.clear();
    if (f !== null && f.logged) {
      this.options.log?.(`catalog peers: notifications on the channel slowed down after ${f.notices} beyond the budget; each is waited for again`);
    }
  }

  private async lookup(): Promise<void> {
    if (this.looking || this.unknown.size === 0) return;
    this.looking = true;
    const pids = [...this.unknown];
    this.unknown.clear();
    let rows: PeerSender[] | null = null;
    try {
      rows = await this.options.senders(pids);
    } catch {
      // The connection's trouble is handled where it is noticed; these notifications stay background reads.
    }
    this.looking = false;
    this.learn(pids, rows);
    void this.lookup();
  }

  /** What a lookup of `pids` found (null: it failed). */
  private learn(pids: number[], rows: PeerSender[] | null): void {
    const byPid = new Map((rows ?? []).map((r) => [r.pid, r]));
    for (const r of byPid.values()) if (r.peer) this.known.set(r.pid, r);
    const unread = rows === null ? '(pg_stat_activity could not be read)' : '(the backend has ended)';
    let peerNotified = false;
    let first: PeerSender | null = null;
    for (const pid of pids) {
      const r = byPid.get(pid) ?? { pid, role: unread, applicationName: '', peer: false };
      if (r.peer) peerNotified = true;
      else if (this.flood !== null) {
        // A failed lookup is not remembered: the sender's next notification asks again.
        if (rows !== null) this.known.set(pid, r);
        first ??= r;
      }
    }
    // A peer's notification arrived over the budget: its change is waited for like any peer's.
    if (peerNotified) this.options.change();
    const f = this.flood;
    if (f === null || f.logged || first === null) return;
    f.logged = true;
    const { burst, perSecond } = this.options.budget;
    this.options.log?.(
      `catalog peers: notifications on the channel beyond ${burst} at once and ${perSecond}/s, from backends that are not Gatehouse instances ` +
        `(first from pid ${first.pid}, role "${first.role}", application_name "${first.applicationName}"): until they slow down they refresh ` +
        `the catalog in the background and statements do not wait for them; a schema change made directly on the server meanwhile ` +
        `is seen at that refresh, not before the next statement`,
    );
  }
}
