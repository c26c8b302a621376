import { execFileSync } from 'node:child_process';
import { describe, expect, it, vi } from 'vitest';
import { main } from './serve-main.ts';

const BIN = new URL('../../bin/gatehouse.js', import.meta.url).pathname;

describe("serve's own entry", () => {
  it('prints the serve help and maps a usage mistake to exit 2, as the full CLI does', async () => {
    const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await main(['serve', '--help'])).toBe(0);
      expect(String(out.mock.calls[0]?.[0])).toMatch(/^Usage: gatehouse serve/);
      expect(await main(['serve', '--offline'])).toBe(2);
      expect(String(err.mock.calls[0]?.[0])).toContain('--offline only applies to --check');
    } finally {
      out.mockRestore();
      err.mockRestore();
    }
  });

  it('refuses another verb', async () => {
    await expect(main(['bench'])).rejects.toThrow(/runs only 'serve'/);
  });

  it('is what the executable runs for serve (compiled): --help answers through it', { timeout: 120_000 }, () => {
    const help = execFileSync(process.execPath, [BIN, 'serve', '--help'], { env: { ...process.env, NODE_OPTIONS: '' }, encoding: 'utf8' });
    expect(help).toMatch(/^Usage: gatehouse serve/);
  });
});
