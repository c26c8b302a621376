// `gatehouse serve`: loads a config file and runs the gateway until SIGINT/SIGTERM; SIGHUP reopens
// the audit file and refreshes git-backed policies.

import pino from 'pino';
import type { Logger } from 'pino';
import { releaseYoungGeneration } from '../build/young-generation.js';
import type { ConfigOverrides } from '../config/document.ts';
import type { GatehouseConfig } from '../config/types.ts';
import { displayUrl } from '../policy/repo/status.ts';
import { UsageError, integerOption, parseOptions } from './args.ts';
import type { CliCommand } from './command.ts';

const HELP = `Usage: gatehouse serve [options]

Runs Gatehouse: loads and validates the configuration, loads the policies, and accepts
PostgreSQL clients until SIGINT or SIGTERM, then closes the listener and open sessions.
Operational logs go to standard error (NDJSON, or text on a terminal); audit records go
to audit.file.

SIGHUP reopens audit.file (after log rotation) and, with policies.git, fetches the
repository and activates the followed commit if it is new and passes its tests
(docs/policy-lifecycle.md).

Options:
  -c, --config <file>     configuration file (default $GATEHOUSE_CONFIG, else ./gatehouse.yaml)
  --host <address>        override listen.host
  --port <n>              override listen.port (0 picks a free port)
  --check                 validate the configuration, check that the files it names exist
                          and load (JWKS, TLS, policies) and that the upstream database
                          accepts Gatehouse's credentials; print a summary and exit
  --offline               with --check: contact nothing (no upstream, no JWKS URL)
  --log-format <fmt>      json or text (default: text on a terminal, else json)
  -h, --help              show this help

Relative paths in the configuration file resolve against the file's directory; a path
given on the command line (--config) against the working directory.

Exit status: 0 after a clean shutdown or a passing --check, 1 when the configuration is
invalid, a check fails or the gateway cannot start, 2 for a command-line mistake.

Examples:
  gatehouse serve --config examples/gatehouse.yaml
  GATEHOUSE_UPSTREAM_PASSWORD=... gatehouse serve -c /etc/gatehouse/gatehouse.yaml
  gatehouse serve -c gatehouse.yaml --check
  gatehouse serve -c gatehouse.yaml --check --offline
`;

export const serveCommand: CliCommand = {
  name: 'serve',
  summary: 'Run the gateway from a configuration file',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const values = parseOptions(argv, {
      config: { type: 'string', short: 'c' },
      host: { type: 'string' },
      port: { type: 'string' },
      check: { type: 'boolean' },
      offline: { type: 'boolean' },
      'log-format': { type: 'string' },
      help: { type: 'boolean', short: 'h' },
    });
    if (values.help === true) {
      process.stdout.write(HELP);
      return 0;
    }
    if (values.offline === true && values.check !== true) throw new UsageError('--offline only applies to --check');
    const format = values['log-format'] ?? (process.stderr.isTTY ? 'text' : 'json');
    if (format !== 'json' && format !== 'text') throw new UsageError('--log-format must be json or text');
    const overrides: ConfigOverrides = {};
    if (values.host !== undefined || values.port !== undefined) {
      overrides.listen = {
        ...(values.host === undefined ? {} : { host: values.host }),
        ...(values.port === undefined ? {} : { port: integerOption('port', values.port, 0, 65535) }),
      };
    }
    const file = values.config ?? process.env['GATEHOUSE_CONFIG'] ?? 'gatehouse.yaml';
    const log = createLogger(format);

    let config: GatehouseConfig;
    try {
      // Loaded here, not at the top: every `gatehouse` invocation imports this module for its help.
      const { loadConfig } = await import('../config/load.ts');
      config = await loadConfig(file, overrides);
    } catch (e) {
      // --check is read by people and CI: the problems as plain lines, whatever the log format.
      if (values.check === true) process.stderr.write(`${(e as Error).message}\nconfiguration NOT OK: ${file}\n`);
      else log.error({ err: e }, (e as Error).message);
      return 1;
    }
    if (values.check === true) {
      const { checkConfiguredResources } = await import('./serve-check.ts');
      const checks = await checkConfiguredResources(config, { offline: values.offline === true });
      const failures = checks.filter((c) => c.status === 'failed').length;
      const width = Math.max(...checks.map((c) => c.what.length));
      process.stdout.write(
        [
          summary(file, config),
          'checks:',
          ...checks.map((c) => `  ${(c.status === 'failed' ? 'FAILED' : c.status).padEnd(7)}  ${c.what.padEnd(width)}  ${c.detail}`),
          failures === 0 ? `configuration OK: ${file}` : `configuration NOT OK: ${file} (${failures} check${failures === 1 ? '' : 's'} failed)`,
          '',
        ].join('\n'),
      );
      return failures === 0 ? 0 : 1;
    }
    log.info({ config: file }, `configuration loaded from ${file}`);
    return serveUntilSignal(config, log);
  },
};

export default serveCommand;

async function serveUntilSignal(config: GatehouseConfig, log: Logger): Promise<number> {
  // Signals are watched before starting, so a SIGTERM during startup still shuts down cleanly.
  let signalled: (signal: NodeJS.Signals) => void = () => undefined;
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
    signalled = resolve;
  });
  let stopping = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (stopping) {
      log.warn({ signal }, `${signal} again: exiting without waiting for sessions`);
      process.exit(130);
    }
    stopping = true;
    signalled(signal);
  };
  // Installed before starting, so that a SIGHUP during startup does not kill the process.
  let onHangup: () => void = () => log.info('SIGHUP during startup: ignored');
  const hangup = (): void => onHangup();
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', hangup);
  try {
    // The whole data path (parser WASM, engines, wire) is loaded only when actually serving.
    const { startGateway } = await import('../server.ts');
    const gateway = await Promise.race([
      startGateway(config, { onInfo: (message) => log.info(message), onError: (message) => log.error(message) }),
      stopRequested.then(() => null),
    ]);
    if (gateway === null) {
      log.info('stopped during startup');
      return 0;
    }
    // Listening: the young generation grows under traffic as V8 does by default (bin/gatehouse.js held it).
    releaseYoungGeneration();
    onHangup = () => {
      log.info('SIGHUP received: reopening the audit file and refreshing policies');
      gateway.reopenAudit().catch((e: unknown) => log.error({ err: e }, `cannot reopen the audit file: ${(e as Error).message}`));
      gateway.refreshPolicies('signal')?.catch((e: unknown) => log.error({ err: e }, `policy refresh failed: ${(e as Error).message}`));
    };
    const signal = await stopRequested;
    log.info({ signal }, `${signal} received: closing the listener and open sessions`);
    await gateway.close();
    log.info('stopped');
    return 0;
  } catch (e) {
    log.error({ err: e }, `cannot start: ${(e as Error).message}`);
    return 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    process.off('SIGHUP', hangup);
  }
}

/** Operational log on standard error (standard output may carry the audit log when audit.file is "-"). */
function createLogger(format: 'json' | 'text'): Logger {
  const dest = pino.destination({ dest: 2, sync: true });
  if (format === 'json') return pino({ name: 'gatehouse' }, dest);
  // Text for humans at a terminal: "HH:MM:SS level message".
  return pino(
    {
      name: 'gatehouse',
      base: null,
      timestamp: false,
      formatters: { level: (label) => ({ level: label }) },
    },
    {
      write(line: string): void {
        const rec = JSON.parse(line) as { level: string; msg?: string; err?: { message?: string } };
        const time = new Date().toTimeString().slice(0, 8);
        dest.write(`${time} ${rec.level.padEnd(5)} ${rec.msg ?? rec.err?.message ?? ''}\n`);
      },
    },
  );
}

function summary(file: string, c: GatehouseConfig): string {
  const jwks = c.auth.jwks.kind === 'file' ? `file ${c.auth.jwks.path}` : `url ${c.auth.jwks.url}`;
  let upstream = c.upstream.url;
  try {
    const u = new URL(c.upstream.url);
    if (u.password !== '') u.password = '***';
    upstream = u.toString();
  } catch {
    // validated already; keep as is
  }
  return [
    `configuration valid: ${file}`,
    `  listen    ${c.listen.host}:${c.listen.port} (tls ${c.tls.mode})`,
    `  auth      issuer ${c.auth.issuer}, audience ${c.auth.audience}, jwks ${jwks}`,
    `  upstream  ${upstream}`,
    `  policies  ${c.policies.engine} from ${policySource(c)}`,
    ...(c.admin === null ? [] : [`  admin     http://${c.admin.host}:${c.admin.port}`]),
    `  audit     ${c.audit.sink === 'postgres' ? `PostgreSQL table ${c.audit.postgresTable ?? 'gatehouse.audit_log'}` : c.audit.file === '-' ? 'standard output' : c.audit.file}`,
  ].join('\n');
}

function policySource(c: GatehouseConfig): string {
  const git = c.policies.git;
  if (git === null) return c.policies.directory;
  const ref = git.pin === null ? `branch ${git.branch}` : `pin ${git.pin}`;
  return `git ${displayUrl(git.url)} (${ref}, ${git.path}/; work dir ${git.workDir})`;
}
