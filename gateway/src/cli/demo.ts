// `gatehouse demo`: Gatehouse in front of an embedded, seeded PostgreSQL (PGlite), ready for psql.
import { UsageError, parseOptions } from './args.ts';
import type { CliCommand } from './command.ts';

const HELP = `Usage: gatehouse demo [options]

Starts an embedded PostgreSQL (PGlite) seeded with ~200 synthetic patients in schema
"clinical", mints development tokens for an "agents" and a "breakglass" identity, and
runs Gatehouse in front of it on 127.0.0.1:6432. The example policies are served from a
git repository the demo creates (<state-dir>/demo-policy-repo), so every decision names a
real commit; commit a change there and POST the admin refresh URL (or send SIGHUP) to
make it live. Prints a ready-to-paste psql command and first queries that show allow,
mask and deny. Ctrl-C stops it.

Options:
  --port <n>          Gatehouse port (default 6432; --self-check uses a free port)
  --engine <name>     policy engine: rego (default) or cedar
  --admin-port <n>    admin listener for GET /policy/status and POST /policy/refresh
                      (default 6433; --self-check uses a free port)
  --policies <dir>    serve this policy directory as it is instead of the demo's git
                      repository (changes need a restart)
  --state-dir <dir>   where data, dev keys and the audit file live (default .gatehouse)
  --fresh             delete the demo database and seed it again
  --patients <n>      number of synthetic patients when seeding (default 200)
  --self-check        run the suggested queries through Gatehouse, print what each
                      returned, and exit 0 only if allow/mask/deny all behaved as expected
                      (uses a throwaway in-memory database)
  -h, --help          show this help

Data lives in <state-dir>/demo-pgdata and is reused across runs; the audit log is
<state-dir>/demo-audit.ndjson. The policy repository is reused too; when the project's
policies/ or policy-tests/ change, the demo copies them in and commits the update. NOT FOR PRODUCTION: development keys and tokens, and an
embedded database without authentication whose connections share one backend session.

Examples:
  npm start                        same as: gatehouse demo
  gatehouse demo --engine cedar
  gatehouse demo --self-check
`;

export const demoCommand: CliCommand = {
  name: 'demo',
  summary: 'Run Gatehouse in front of an embedded, seeded PostgreSQL (PGlite) for a first look',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const values = parseOptions(argv, {
      port: { type: 'string' },
      'admin-port': { type: 'string' },
      engine: { type: 'string', default: 'rego' },
      policies: { type: 'string' },
      'state-dir': { type: 'string', default: '.gatehouse' },
      fresh: { type: 'boolean', default: false },
      patients: { type: 'string', default: '200' },
      'self-check': { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const engine = values.engine;
    if (engine !== 'rego' && engine !== 'cedar') throw new UsageError(`--engine must be rego or cedar, not ${engine}`);
    const port = values.port === undefined ? null : parseInteger(values.port, 0, 65_535);
    const adminPort = values['admin-port'] === undefined ? null : parseInteger(values['admin-port'], 0, 65_535);
    const patients = parseInteger(values.patients, 1, 100_000);
    if (port === undefined || adminPort === undefined || patients === undefined) {
      throw new UsageError('--port and --admin-port must be 0-65535 and --patients 1-100000');
    }
    // Loaded on use: the demo pulls in PGlite, which every other verb (and --help) can do without.
    const { runDemo } = await import('../demo/run-demo.ts');
    return runDemo({
      host: '127.0.0.1',
      port,
      adminPort,
      engine,
      policiesDir: values.policies ?? null,
      stateDir: values['state-dir'],
      fresh: values.fresh,
      selfCheck: values['self-check'],
      patients,
      print: (line) => process.stdout.write(`${line}\n`),
    });
  },
};

function parseInteger(text: string, min: number, max: number): number | undefined {
  if (!/^\d+$/.test(text)) return undefined;
  const value = Number(text);
  return value >= min && value <= max ? value : undefined;
}

export default demoCommand;
