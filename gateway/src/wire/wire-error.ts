// The one error the wire layer throws: malformed, truncated or oversized protocol input.

/** Raised for any protocol input the wire layer cannot accept; `reason` is a short stable text. */
export class WireError extends Error {
  readonly reason: string;

  constructor(reason: string) {
    super(`protocol violation: ${reason}`);
    this.name = 'WireError';
    this.reason = reason;
  }
}

export function isWireError(e: unknown): e is WireError {
  return e instanceof WireError;
}
