// Helpers for the approval scenarios: the admin API as an approver would call it, waiting for a
// held request to appear, and a raw CancelRequest like libpq sends.


export async function api(adminPort: number, path: string, token: string, body?: unknown): Promise<{ status: number; body: any }> {
  const res = await fetch(`http://127.0.0.1:${adminPort}${path}`, {
    method: body === undefined ? 'GET' : 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: await res.json() };
}

/** The pending request whose statement text contains `marker`, once it is there (polls; no timing asserted). */
export async function pendingRequest(adminPort: number, approverToken: string, marker: string): Promise<any> {
  for (let i = 0; i < 400; i++) {
    const { body } = await api(adminPort, '/approvals/api/requests?state=pending', approverToken);
    const found = (body.requests ?? []).find((r: { statement: { text: string } }) => r.statement.text.includes(marker));
    if (found) return found;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`no pending request for ${marker}`);
}

