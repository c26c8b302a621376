// `gatehouse audit unseal`: opens the break-glass copies of chosen statements (their text as sent
// and their parameters) with the break-glass private key, offline.

import { accessSync, constants, statSync, createReadStream, readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { compactDecrypt, importPKCS8 } from 'jose';
import { auditLogFilesNoting } from '../audit/log-files.ts';
import type { SealedStatement } from '../audit/seal.ts';
import type { AuditRecord } from '../audit/types.ts';
import { UsageError, parseOptionsAndPositionals } from './args.ts';
import type { CliCommand } from './command.ts';

const HELP = `Usage: gatehouse audit unseal --key <breakglass.key> (--decision ID... | --session ID... | --all) [--json] FILE...

Opens the break-glass copies in statement records (written when audit.breakglass_key is set):
the statement exactly as the client sent it, literals included, the text forwarded to
PostgreSQL, and the values bound to its parameters. These hold the values (PHI) the log itself
leaves out: open only the statements an investigation needs, and record that you did.

Options:
  --key <file>       the break-glass private key (PKCS#8 PEM, from gatehouse audit keygen
                     --breakglass)
  --decision <id>    a statement's decision id (repeatable)
  --session <id>     every statement of a session (repeatable)
  --all              every sealed statement in the files
  --json             one JSON object per statement instead of text
  -h, --help         show this help

Exit codes:
  0  every chosen statement was opened
  1  a chosen statement was not found, has no sealed copy, or its copy does not open with
     this key (another key, or an altered record)
  2  usage error (bad arguments, unreadable file or key)

Example:
  gatehouse audit unseal --key /secure/breakglass.key --decision 0b6c1e0e-7f5e-4c43-9d0e-2a4f1f4c9a11 audit.ndjson*
`;

type StatementRecord = Extract<AuditRecord, { type: 'statement' }>;

interface Opened {
  decision_id: string;
  time: string;
  subject: string | null;
  statement: string;
  forwarded: string | null;
  /** Each value as text when it is UTF-8 without control characters, else as base64 (binary). */
  parameters: Array<{ text: string } | { base64: string } | null>;
}

function parameterOf(base64: string | null): Opened['parameters'][number] {
  if (base64 === null) return null;
  const bytes = Buffer.from(base64, 'base64');
  const text = bytes.toString('utf8');
  return Buffer.from(text, 'utf8').equals(bytes) && !/[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/.test(text) ? { text } : { base64 };
}

function formatOpened(o: Opened): string {
  const lines = [`decision ${o.decision_id}  ${o.time}  ${o.subject ?? '(no identity)'}`, `  statement: ${o.statement}`];
  if (o.forwarded !== null) lines.push(`  forwarded: ${o.forwarded}`);
  o.parameters.forEach((p, i) => lines.push(`  $${i + 1} = ${p === null ? 'NULL' : 'text' in p ? JSON.stringify(p.text) : `(binary, base64) ${p.base64}`}`));
  return `${lines.join('\n')}\n`;
}

export const auditUnsealCommand: CliCommand = {
  name: 'unseal',
  summary: 'Open the break-glass copies of chosen statements (text as sent, parameters)',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const { values, positionals } = parseOptionsAndPositionals(argv, {
      key: { type: 'string' },
      decision: { type: 'string', multiple: true, default: [] },
      session: { type: 'string', multiple: true, default: [] },
      all: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    });
    if (values.key === undefined) throw new UsageError('--key <breakglass.key> is required');
    const files = auditLogFilesNoting(positionals);
    if (files.length === 0) throw new UsageError('at least one audit log FILE is required');
    for (const f of files) {
      try {
        accessSync(f, constants.R_OK);
        if (statSync(f).isDirectory()) throw new Error('a directory, not a file');
      } catch (e) {
        throw new UsageError(`cannot read the audit file ${f}: ${(e as Error).message}`);
      }
    }
    const decisions = new Set(values.decision);
    const sessions = new Set(values.session);
    if (!values.all && decisions.size === 0 && sessions.size === 0) throw new UsageError('choose the statements to open: --decision ID, --session ID or --all');
    let key: CryptoKey;
    try {
      key = await importPKCS8(readFileSync(values.key, 'utf8'), 'ECDH-ES');
    } catch (e) {
      throw new UsageError(`${values.key} is not an X25519 private key (PKCS#8 PEM): ${(e as Error).message}`);
    }
    const chosen = (r: StatementRecord): boolean => values.all || decisions.has(r.decision_id) || sessions.has(r.session_id);
    const found = new Set<string>();
    let failures = 0;
    for (const file of files) {
      const lines = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
      let n = 0;
      for await (const text of lines) {
        n++;
        if (!text.includes('"type":"statement"')) continue;
        let record: AuditRecord;
        try {
          record = JSON.parse(text) as AuditRecord;
        } catch {
          continue;
        }
        if (record.type !== 'statement' || !chosen(record) || found.has(record.decision_id)) continue;
        found.add(record.decision_id);
        if (record.sealed === undefined) {
          process.stderr.write(`${file}:${n}: decision ${record.decision_id} has no sealed copy (audit.breakglass_key was not set when it was written)\n`);
          failures++;
          continue;
        }
        let payload: SealedStatement;
        try {
          const { plaintext } = await compactDecrypt(record.sealed, key);
          payload = JSON.parse(new TextDecoder().decode(plaintext)) as SealedStatement;
        } catch (e) {
          process.stderr.write(`${file}:${n}: decision ${record.decision_id}: the sealed copy does not open with this key (${(e as Error).message})\n`);
          failures++;
          continue;
        }
        if (payload.decision_id !== undefined && payload.decision_id !== record.decision_id) {
          // Sealed for another statement: someone moved it here; what it holds is not this statement's.
          process.stderr.write(`${file}:${n}: decision ${record.decision_id}: the sealed copy was made for decision ${JSON.stringify(payload.decision_id)}, not this one (the record was altered); not shown\n`);
          failures++;
          continue;
        }
        const opened: Opened = {
          decision_id: record.decision_id,
          time: record.time,
          subject: record.identity?.subject ?? null,
          statement: payload.statement,
          forwarded: payload.forwarded ?? null,
          parameters: (payload.parameters ?? []).map(parameterOf),
        };
        process.stdout.write(values.json ? `${JSON.stringify(opened)}\n` : formatOpened(opened));
      }
    }
    for (const id of decisions) {
      if (!found.has(id)) {
        process.stderr.write(`decision ${id}: no statement record with this id in the files given\n`);
        failures++;
      }
    }
    if (values.all && found.size === 0) process.stderr.write('no statement records in the files given\n');
    return failures === 0 ? 0 : 1;
  },
};
