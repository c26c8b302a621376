// The approval page in a real headless browser (Debian's chromium driven by playwright-core): a
// reviewer signs in with a token, sees a held psql statement appear without reloading, approves
// it with a comment, and the waiting psql gets its rows. GATEHOUSE_SCREENSHOTS=1 refreshes the
// screenshot in docs/images/.

import { copyFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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
});
