import { describe, expect, it } from 'vitest';
import { firstErrorLine, parsePgbenchOutput } from './pgbench.ts';

const REPORT = `pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 1
query mode: extended
number of clients: 8
number of threads: 2
maximum number of tries: 1
duration: 2 s
number of transactions actually processed: 22376
number of failed transactions: 0 (0.000%)
latency average = 0.706 ms
initial connection time = 37.049 ms
tps = 11333.023029 (without initial connection time)
`;

describe('parsePgbenchOutput', () => {
  it('reads tps, latency, transactions and failures', () => {
    expect(parsePgbenchOutput(REPORT)).toEqual({
      tps: 11333.023029,
      latencyAverageMs: 0.706,
      transactions: 22376,
      failedTransactions: 0,
      initialConnectionMs: 37.049,
    });
  });

  it('returns null when pgbench printed no summary', () => {
    expect(parsePgbenchOutput('pgbench: error: connection to server failed\n')).toBeNull();
  });

  it('finds the first error line, which names the cause', () => {
    const text = 'pgbench (15)\npgbench: error: client 0 script 0 aborted in command 1 query 0: ERROR:  denied\npgbench: error: Run was aborted; the above results are incomplete.\n';
    expect(firstErrorLine(text)).toBe('pgbench: error: client 0 script 0 aborted in command 1 query 0: ERROR:  denied');
  });
});
