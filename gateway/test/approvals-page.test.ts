// The approval page in a real headless browser (Debian's chromium driven by playwright-core): a
// reviewer signs in with a token, sees a held psql statement appear without reloading, approves
// it with a comment, and the waiting psql gets its rows; History and the inbox page with Older.
// GATEHOUSE_SCREENSHOTS=1 refreshes the screenshots in docs/images/.

import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { newestFirst } from '../src/approvals/keyset.ts';
import { heldUpdate, person } from '../src/approvals/test-fixtures.ts';
import type { ApprovalRequest } from '../src/approvals/types.ts';
import { REPO_ROOT, startTestGateway, type TestGateway } from './support/harness.ts';
import { psqlVia } from './support/run-tool.ts';

const CHROMIUM = process.env['GATEHOUSE_CHROMIUM'] ?? '/usr/bin/chromium';

let t: TestGateway;
let browser: Browser;

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no chromium at ${CHROMIUM}: apt-get install chromium (scripts/ensure-clients.sh does)`);
  t = await startTestGateway({ admin: true });
  browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await t?.close();
});

describe('approval page', () => {
  it('a reviewer sees a held statement appear, approves it, and psql gets its rows', async () => {
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    await page.goto(`http://127.0.0.1:${t.gw.adminPort}/approvals`);
    await page.fill('#token', await t.token('lead-1', ['clinical-leads']));
    await page.click('#signin-button');
    await page.waitForSelector('text=Nothing waits for an answer.');

    const agentToken = await t.token('agent-7', ['agents']);
    const psql = psqlVia(t.port, agentToken, ['-c', "/* reason: ticket 4711 */ UPDATE clinical.patients SET phone = '555-0401' WHERE id = 41 RETURNING id"], {
      killAfterMs: 90_000,
    });
    // No reload: the inbox polls and the card appears.
    const card = page.locator('article[data-request]', { hasText: "'555-0401'" });
    await card.waitFor({ timeout: 60_000 });
    expect(await card.textContent()).toContain('ticket 4711');
    expect(await card.textContent()).toContain('clinical-write-approval');
    const shot = join(t.workDir, 'approvals-inbox.png');
    await page.screenshot({ path: shot });
    if (process.env['GATEHOUSE_SCREENSHOTS'] === '1') copyFileSync(shot, join(REPO_ROOT, 'docs/images/approvals-inbox.png'));

    await card.getByRole('textbox').fill('checked with the ward');
    await card.getByRole('button', { name: 'Approve' }).click();
    const result = await psql;
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toMatch(/\b41\b[\s\S]*\(1 row\)/);

    await page.click('[data-view=history]');
    const closed = page.locator('article[data-request]', { hasText: "'555-0401'" });
    await closed.waitFor({ timeout: 60_000 });
    expect(await closed.textContent()).toContain('approved by lead-1');
    expect(await closed.textContent()).toContain('checked with the ward');
    await page.close();
  });

  it('literals are not shown to the requester', async () => {
    const agentToken = await t.token('agent-7', ['agents']);
    const client = await t.client(agentToken);
    void client.query("UPDATE clinical.patients SET phone = '555-0402' WHERE id = 42").catch(() => undefined);
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${t.gw.adminPort}/approvals`);
    await page.fill('#token', agentToken);
    await page.click('#signin-button');
    const card = page.locator('article[data-request]', { hasText: 'SET phone = $1' });
    await card.waitFor({ timeout: 60_000 });
    expect(await card.textContent()).not.toContain('555-0402');
    expect(await card.textContent()).toContain('Literals are shown only to approvers.');
    expect(await card.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    await page.close();
  });

  it('History shows a page and Older appends the next, which polling keeps; the inbox says how many more are pending', async () => {
    const svc = t.gw.approvals.service;
    const revision = t.gw.engine().revision;
    const open = (n: number, marker: string): Promise<ApprovalRequest> => {
      const fields = heldUpdate();
      const text = `UPDATE clinical.patients SET phone = '${marker}${String(n).padStart(3, '0')}' WHERE id = ${n}`;
      return svc.open({ ...fields, statement: { ...fields.statement, text }, policy: { ...fields.policy, revision } });
    };
    // 57 closed requests (more than one page of 50): approved, denied with a comment, or withdrawn.
    const lead2 = person('lead-2', ['clinical-leads']);
    const closed: ApprovalRequest[] = [];
    for (let n = 0; n < 57; n++) {
      const r = await open(n, '555-7');
      closed.push(r);
      if (n % 3 === 0) await svc.answer(lead2, r.id, { verdict: 'approve', comment: 'checked', grantSeconds: 0 });
      else if (n % 3 === 1) await svc.answer(lead2, r.id, { verdict: 'deny', comment: 'not this patient', grantSeconds: 0 });
      else await svc.withdraw(r.id, 'client disconnected');
    }
    const page = await browser.newPage({ viewport: { width: 1100, height: 760 } });
    await page.goto(`http://127.0.0.1:${t.gw.adminPort}/approvals`);
    await page.fill('#token', await t.token('lead-1', ['clinical-leads']));
    await page.click('#signin-button');
    await page.click('[data-view=history]');
    const ours = page.locator('article[data-request]', { hasText: "'555-7" });
    const older = page.getByRole('button', { name: 'Older' });
    await older.waitFor({ timeout: 60_000 });
    expect(await page.locator('article[data-request]').count()).toBe(50);
    // The newest first (created in the same millisecond: the larger id).
    const newest = [...closed].sort(newestFirst)[0]!;
    expect(await page.locator('article[data-request]').first().getAttribute('data-request')).toBe(newest.id);
    const shot = join(t.workDir, 'approvals-history.png');
    await older.scrollIntoViewIfNeeded();
    await page.screenshot({ path: shot });
    if (process.env['GATEHOUSE_SCREENSHOTS'] === '1') copyFileSync(shot, join(REPO_ROOT, 'docs/images/approvals-history.png'));

    await older.click();
    const oldest = [...closed].sort(newestFirst)[56]!;
    await page.locator(`article[data-request="${oldest.id}"]`).waitFor({ timeout: 60_000 });
    expect(await ours.count()).toBe(57);
    // Polling (a new "updated" time) refreshes the first page and keeps what Older loaded.
    const before = await page.textContent('#status');
    await page.waitForFunction((s) => document.getElementById('status')?.textContent !== s, before, { timeout: 60_000 });
    await page.waitForFunction((s) => document.getElementById('status')?.textContent !== s, await page.textContent('#status'), { timeout: 60_000 });
    expect(await ours.count()).toBe(57);
    // A request closed meanwhile appears on top, above what was loaded.
    const late = await open(900, '555-7');
    await svc.withdraw(late.id, 'client disconnected');
    await page.locator('article[data-request]').first().filter({ hasText: "'555-7900'" }).waitFor({ timeout: 60_000 });
    expect(await ours.count()).toBe(58);

    // The inbox: its first page only, and how many more wait.
    const pending: ApprovalRequest[] = [];
    for (let n = 0; n < 53; n++) pending.push(await open(n, '555-8'));
    try {
      await page.click('[data-view=inbox]');
      const more = page.locator('p.more');
      await more.waitFor({ timeout: 60_000 });
      const total = Number(/^(\d+) pending/.exec((await page.textContent('#status')) ?? '')?.[1]);
      expect(total).toBeGreaterThanOrEqual(53);
      expect(await page.locator('article[data-request]').count()).toBe(50);
      expect(await more.textContent()).toBe(`${total - 50} more pending — Older`);
      await more.getByRole('button', { name: 'Older' }).click();
      await page.waitForFunction((n) => document.querySelectorAll('article[data-request]').length === n, Math.min(total, 100), { timeout: 60_000 });
      expect(await page.locator('p.more').count()).toBe(0);
      // Still polled: a request answered elsewhere leaves the inbox.
      await svc.answer(lead2, pending[0]!.id, { verdict: 'deny', comment: '', grantSeconds: 0 });
      await page.locator('article[data-request]', { hasText: "'555-8000'" }).waitFor({ state: 'detached', timeout: 60_000 });
    } finally {
      for (const r of pending) await svc.withdraw(r.id, 'test over');
    }
    await page.close();
  });
});
