import { userInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { isGatehouseError } from '../../errors.ts';
import { describeTarget, parseConnectionUrl } from './connection-url.ts';

function codeOf(f: () => unknown): string | null {
  try {
    f();
    return null;
  } catch (e) {
    return isGatehouseError(e) ? e.code : 'not a GatehouseError';
  }
}

describe('parseConnectionUrl', () => {
  it('parses a full URL', () => {
    expect(
      parseConnectionUrl(
        'postgresql://gate:s3cret@db.internal:6432/app?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=gatehouse&connect_timeout=5&options=-c%20search_path%3Dx',
      ),
    ).toEqual({
      host: 'db.internal',
      port: 6432,
      user: 'gate',
      password: 's3cret',
      database: 'app',
      sslmode: 'verify-full',
      sslrootcert: '/etc/ca.pem',
      applicationName: 'gatehouse',
      options: '-c search_path=x',
      connectTimeoutSeconds: 5,
    });
  });

  it('decodes percent-encoded user, password and database', () => {
    const s = parseConnectionUrl('postgres://us%40er:p%3Aw%2Fd%40%20x%25@h/d%C3%A9b');
    expect(s.user).toBe('us@er');
    expect(s.password).toBe('p:w/d@ x%');
    expect(s.database).toBe('déb');
  });

  it('takes the last @ as the end of the user info', () => {
    const s = parseConnectionUrl('postgresql://u:p@ss@host/db');
    expect(s.password).toBe('p@ss');
    expect(s.host).toBe('host');
  });

  it('defaults like libpq', () => {
    const s = parseConnectionUrl('postgresql://');
    expect(s.host).toBe('localhost');
    expect(s.port).toBe(5432);
    expect(s.user).toBe(userInfo().username);
    expect(s.database).toBe(s.user);
    expect(s.password).toBeNull();
    expect(s.sslmode).toBe('prefer');
    const u = parseConnectionUrl('postgresql://alice@/');
    expect(u.database).toBe('alice');
    expect(u.host).toBe('localhost');
  });

  it('parses IPv6 hosts, ports and query overrides', () => {
    const s = parseConnectionUrl('postgresql://[::1]:5433/db');
    expect(s.host).toBe('::1');
    expect(s.port).toBe(5433);
    expect(describeTarget(s)).toBe('[::1]:5433');
    const q = parseConnectionUrl('postgresql:///db?host=/var/run/postgresql&port=5555&user=bob&password=pw&dbname=other');
    expect(q).toMatchObject({ host: '/var/run/postgresql', port: 5555, user: 'bob', password: 'pw', database: 'other' });
    expect(describeTarget(q)).toBe('/var/run/postgresql/.s.PGSQL.5555');
  });

  it('rejects malformed URLs with CONFIG_INVALID and never echoes the password', () => {
    const bad = [
      'mysql://u:pw@h/db',
      'postgresql://u:pw@h:99999/db',
      'postgresql://u:pw@h:abc/db',
      'postgresql://u:pw@h1,h2/db',
      'postgresql://u:pw@h/db?sslmode=bogus',
      'postgresql://u:pw@h/db?frobnicate=1',
      'postgresql://u:pw%zz@h/db',
      'postgresql://u:pw@[::1/db',
      'postgresql://u:pw@h/db?connect_timeout=-1',
    ];
    for (const url of bad) {
      expect(codeOf(() => parseConnectionUrl(url)), url).toBe('CONFIG_INVALID');
      try {
        parseConnectionUrl(url);
      } catch (e) {
        expect((e as Error).message).not.toContain('pw');
      }
    }
  });
});
