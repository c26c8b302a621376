// A small client of the approval JSON API (approvals/http-routes.ts), for the CLI: one bearer
// token, JSON in and out, and the server's error message when a call is refused.

export class ApprovalApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = 'ApprovalApiError';
  }
}

export interface ApprovalApiClient {
  get(path: string): Promise<any>;
  post(path: string, body: unknown): Promise<any>;
}

/** `base`: the admin listener, e.g. http://127.0.0.1:9090. */
export function approvalApiClient(base: string, token: string): ApprovalApiClient {
  const call = async (path: string, init: RequestInit): Promise<any> => {
    let res: Response;
    try {
      res = await fetch(new URL(path, base), { ...init, headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' } });
    } catch (e) {
      throw new ApprovalApiError(0, `cannot reach the Gatehouse admin listener at ${base}: ${e instanceof Error ? e.message : String(e)}`);
    }
    const body = (await res.json().catch(() => ({}))) as { error?: string };
    if (!res.ok) throw new ApprovalApiError(res.status, body.error ?? `HTTP ${res.status}`);
    return body;
  };
  return {
    get: (path) => call(path, { method: 'GET' }),
    post: (path, body) => call(path, { method: 'POST', body: JSON.stringify(body) }),
  };
}
