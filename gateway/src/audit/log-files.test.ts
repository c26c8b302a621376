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
