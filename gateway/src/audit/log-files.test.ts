import { describe, expect, it } from 'vitest';
import { auditLogFiles } from './log-files.ts';

describe('auditLogFiles', () => {
  it('leaves out the chain state a glob like audit.ndjson* also matches', () => {
    expect(auditLogFiles(['/l/audit.ndjson', '/l/audit.ndjson.chain', '/l/audit.ndjson.20261205T101500Z', '/l/audit.ndjson.chain.tmp'])).toEqual({
      files: ['/l/audit.ndjson', '/l/audit.ndjson.20261205T101500Z'],
      skipped: [
        { file: '/l/audit.ndjson.chain', why: "the gateway's chain state beside the log, not a log file" },
        { file: '/l/audit.ndjson.chain.tmp', why: "the gateway's chain state beside the log, not a log file" },
      ],
    });
  });
});

describe('auditLogFiles: the write-ahead ring', () => {
  it('leaves out the ring beside a log (audit.ndjson.wal), and keeps a log itself named *.wal', () => {
    expect(auditLogFiles(['/l/audit.ndjson', '/l/audit.ndjson.wal'])).toEqual({
      files: ['/l/audit.ndjson'],
      skipped: [{ file: '/l/audit.ndjson.wal', why: "the gateway's write-ahead ring beside the log, not a log file" }],
    });
    expect(auditLogFiles(['/nonexistent-l/audit.wal']).files).toEqual(['/nonexistent-l/audit.wal']);
  });
});

describe('auditLogFiles (review)', () => {
  it('keeps a log that is itself named *.chain (audit.file: audit.chain): only the state beside a log is left out', () => {
    expect(auditLogFiles(['/nonexistent-l/audit.chain', '/nonexistent-l/audit.chain.20261205T101500Z'])).toEqual({
      files: ['/nonexistent-l/audit.chain', '/nonexistent-l/audit.chain.20261205T101500Z'],
      skipped: [],
    });
    // Its own state beside it (audit.chain.chain) is still left out.
    expect(auditLogFiles(['/nonexistent-l/audit.chain', '/nonexistent-l/audit.chain.chain']).files).toEqual(['/nonexistent-l/audit.chain']);
  });
});
