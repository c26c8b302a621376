// Serves the approvers' page (page/inbox.html and page/inbox.js, read once at start) with a
// Content-Security-Policy that allows only its own script: statement text is shown as text, never markup.

import { readFileSync } from 'node:fs';
import type { AdminReply } from '../admin/admin-server.ts';

const CSP = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'";

export function approvalPage(): { html: AdminReply; script: AdminReply } {
  const read = (name: string): string => readFileSync(new URL(`./page/${name}`, import.meta.url), 'utf8');
  const headers = { 'Content-Security-Policy': CSP, 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer' };
  return {
    html: { status: 200, text: read('inbox.html'), contentType: 'text/html; charset=utf-8', headers },
    script: { status: 200, text: read('inbox.js'), contentType: 'text/javascript; charset=utf-8', headers },
  };
}
