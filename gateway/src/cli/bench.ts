// `gatehouse bench`: pgbench through Gatehouse against pgbench directly and through PgBouncer,
// Gatehouse's memory with many sessions, and the isolation harness (well-behaved sessions beside a
// hostile client), results in bench-results/.
import { UsageError, parseOptions } from './args.ts';
import type { CliCommand } from './command.ts';
import { MAX_MEMORY_SESSIONS, QUERY_MODES, type QueryMode } from '../bench/bench-results.ts';
import { DEFAULT_BENCH_URL } from '../bench/bench-database.ts';
import { HOSTILE_ACTIONS, type HostileAction } from '../bench/hostile-client.ts';

const HELP = `Usage: gatehouse bench [options]

Measures what Gatehouse costs against its anchors: initialises a pgbench database
(pgbench -i) on a real PostgreSQL, starts PgBouncer (session mode, its own temporary
config, a free loopback port; installed by scripts/ensure-pgbouncer.sh when missing)
and Gatehouse in-process in front of it (development token for group "bench", the
repository's example policies, audit to a temporary file), then runs
  pgbench -S -n -T <seconds> -c <clients> -j min(2,clients) -M <mode>
for each client count and mode, directly, through PgBouncer and through Gatehouse, one
right after the other, with each proxy's CPU per transaction (/proc/<pid>/stat); then
pgbench -S -C (a new connection per transaction) for each client count, also through a
Gatehouse with upstream.pool; then Gatehouse's RSS idle and with --memory-sessions
sessions open (a private PostgreSQL, Gatehouse as a child process) and new sessions
per second; a verdict against issue 8's targets heads the report. Then the
isolation harness: a private PostgreSQL (initdb in a temporary directory, loopback),
Gatehouse as a child process, --sessions well-behaved sessions of mixed allowed, masked
and denied statements, measured for --isolation-seconds without, then with, one hostile
client (a 40,000-statement Query, a 10 MB literal, a statement a slow policy rule
evaluates), then again without; p50/p99/max latency, errors and the gateway's RSS over
time, judged against issue 11's criteria. Writes bench-results/latest.md and
bench-results/latest.json (a soak writes bench-results/soak.md and soak.json). Needs
pgbench on PATH, pgbouncer, and PostgreSQL's initdb and pg_ctl (for the memory part, and
for the isolation harness unless --isolation-upstream is given).

Options:
  --seconds <n>     duration of each pgbench run (default 10)
  --clients <list>  comma-separated pgbench client counts, each measured in every mode
                    (default 8,32; issue 8's targets are at 8 and 32)
  --connect-seconds <n>
                    duration of each pgbench -C run (default: --seconds; 0 skips them)
  --memory-sessions <n>
                    client sessions held open through Gatehouse to read its RSS, and
                    timed to give new sessions per second (default 1000, at most 2000;
                    0 skips it)
  --modes <list>    comma-separated query modes: simple,extended,prepared (default all)
  --warmup <n>      seconds of warm-up per target before measuring (default 2; 0 = none)
  --engine <name>   policy engine: rego (default) or cedar
  --upstream <url>  PostgreSQL to measure, superuser URL; the database is created when absent
                    (default ${DEFAULT_BENCH_URL})
  --scale <n>       pgbench scale factor (default 1)
  --decision-rounds <n>
                    passes over the decision corpus when timing each engine (default 50)
  --audit-rounds <n>
                    rounds of pgbench -S -M prepared (first --clients) through three Gatehouse instances:
                    durable audit (fdatasync before forwarding), audit without fdatasync,
                    and no audit, in rotating order (default 2; 0 skips it)
  --activation-commits <n>
                    commits per engine when timing how long a pushed commit takes to become
                    the active policy (git repository, POST /policy/refresh; default 5,
                    0 skips it)
  --out <dir>       results directory (default bench-results)
  --only <part>     run only one part: pgbench (comparison with direct and PgBouncer,
                    -C, memory, decision and activation timings), isolation (the
                    isolation harness), masking (the masked 100,000-row SELECT alone,
                    printed, not written to --out; --masking-passes, default 3) or
                    decisions (the policy decision timings alone, printed, not written;
                    --decision-rounds passes over the corpus)
  --sessions <n>    isolation: well-behaved sessions (default 200, at most 1000)
  --isolation-seconds <n>
                    isolation: seconds per phase (default 30, at most 900; the recovery
                    phase is half as long)
  --isolation-warmup <n>
                    isolation: seconds of traffic before measuring (default 10)
  --think-ms <n>    isolation: mean pause between a session's statements (default 200)
  --hostile <list>  isolation: the hostile client's actions, comma-separated, from
                    many-statements, big-literal, slow-policy (default all; slow-policy
                    needs rego): to see which one costs the others what
  --soak            isolation: one phase of --isolation-seconds without the hostile client
                    (RSS over time and errors), written to bench-results/soak.md
  --isolation-upstream <url>
                    isolation: a loopback PostgreSQL (superuser URL, max_connections above
                    the sessions) instead of a private one
  -h, --help        show this help

Examples:
  npm run bench -- --seconds 30 --modes extended,prepared
  npm run bench -- --only pgbench --seconds 3 --warmup 1 --clients 8 --memory-sessions 100 \\
    --decision-rounds 2 --audit-rounds 0 --activation-commits 0 --out /tmp/bench   # a quick check
  npm run bench -- --only isolation --sessions 20 --isolation-seconds 5   # a quick check
  npm run bench -- --only masking --masking-passes 5   # the masked SELECT alone, printed
  npm run bench -- --only decisions                     # policy decision timings alone, printed
  npm run bench -- --only isolation --soak --sessions 500 --isolation-seconds 600
`;

export const benchCommand: CliCommand = {
  name: 'bench',
  summary: 'Benchmark Gatehouse against direct PostgreSQL with pgbench; writes bench-results/latest.md',
  help: HELP,
  async run(argv: string[]): Promise<number> {
    const values = parseOptions(argv, {
      seconds: { type: 'string', default: '10' },
      clients: { type: 'string', default: '8,32' },
      'connect-seconds': { type: 'string', default: '' },
      'memory-sessions': { type: 'string', default: '1000' },
      modes: { type: 'string', default: QUERY_MODES.join(',') },
      warmup: { type: 'string', default: '2' },
      engine: { type: 'string', default: 'rego' },
      upstream: { type: 'string', default: DEFAULT_BENCH_URL },
      scale: { type: 'string', default: '1' },
      'decision-rounds': { type: 'string', default: '50' },
      'activation-commits': { type: 'string', default: '5' },
      'audit-rounds': { type: 'string', default: '2' },
      out: { type: 'string', default: 'bench-results' },
      only: { type: 'string', default: '' },
      'masking-passes': { type: 'string', default: '3' },
      sessions: { type: 'string', default: '200' },
      'isolation-seconds': { type: 'string', default: '30' },
      'isolation-warmup': { type: 'string', default: '10' },
      'think-ms': { type: 'string', default: '200' },
      soak: { type: 'boolean', default: false },
      hostile: { type: 'string', default: HOSTILE_ACTIONS.join(',') },
      'isolation-upstream': { type: 'string', default: '' },
      help: { type: 'boolean', short: 'h', default: false },
    });
    if (values.help) {
      process.stdout.write(HELP);
      return 0;
    }
    const fail = (message: string): never => {
      throw new UsageError(message);
    };
    const seconds = positive(values.seconds);
    const clientList = values.clients.split(',').map((c) => positive(c.trim()));
    if (clientList.length === 0 || clientList.some((c) => c === undefined || c > 1000)) {
      return fail(`--clients takes comma-separated client counts from 1 to 1000, not '${values.clients}'`);
    }
    const clients = clientList as number[];
    const connectText = values['connect-seconds'] === '' ? values.seconds : values['connect-seconds'];
    const connectSeconds = /^\d+$/.test(connectText) ? Number(connectText) : undefined;
    if (connectSeconds === undefined) return fail('--connect-seconds must be a whole number');
    const memoryText = values['memory-sessions'];
    const memorySessions = /^\d+$/.test(memoryText) && Number(memoryText) <= MAX_MEMORY_SESSIONS ? Number(memoryText) : undefined;
    if (memorySessions === undefined) return fail(`--memory-sessions must be a whole number up to ${MAX_MEMORY_SESSIONS}`);
    const scale = positive(values.scale);
    const decisionRounds = positive(values['decision-rounds']);
    if (decisionRounds === undefined) return fail('--decision-rounds must be a positive integer');
    const activationText = values['activation-commits'];
    const activationCommits = /^\d+$/.test(activationText) && Number(activationText) <= 100 ? Number(activationText) : undefined;
    if (activationCommits === undefined) return fail('--activation-commits must be a whole number up to 100');
    const auditText = values['audit-rounds'];
    const auditRounds = /^\d+$/.test(auditText) && Number(auditText) <= 20 ? Number(auditText) : undefined;
    if (auditRounds === undefined) return fail('--audit-rounds must be a whole number up to 20');
    const warmup = /^\d+$/.test(values.warmup) ? Number(values.warmup) : undefined;
    if (seconds === undefined || scale === undefined || warmup === undefined) {
      return fail('--seconds and --scale must be positive integers, --warmup a whole number');
    }
    const modes = values.modes.split(',').map((m) => m.trim()).filter((m) => m !== '');
    const unknown = modes.filter((m) => !(QUERY_MODES as readonly string[]).includes(m));
    if (modes.length === 0 || unknown.length > 0) {
      return fail(`--modes takes ${QUERY_MODES.join(', ')}; not ${unknown.join(', ') || '(empty)'}`);
    }
    if (values.engine !== 'rego' && values.engine !== 'cedar') return fail('--engine must be rego or cedar');
    try {
      new URL(values.upstream);
    } catch {
      return fail(`--upstream is not a URL: ${values.upstream}`);
    }
    if (!['', 'pgbench', 'isolation', 'masking', 'decisions'].includes(values.only)) return fail('--only takes pgbench, isolation, masking or decisions');
    if (values.only === 'decisions') {
      const { runDecisionsOnly } = await import('../bench/run-decisions.ts');
      return await runDecisionsOnly({ rounds: decisionRounds, print: (line) => process.stdout.write(`${line}\n`) });
    }
    if (values.only === 'masking') {
      const passes = positive(values['masking-passes']);
      if (passes === undefined || passes > 50) return fail('--masking-passes must be a positive integer up to 50');
      const { runMaskingOnly } = await import('../bench/run-masking.ts');
      try {
        return await runMaskingOnly({ upstreamUrl: values.upstream, engine: values.engine, passes, print: (line) => process.stdout.write(`${line}\n`) });
      } catch (error) {
        process.stderr.write(`gatehouse bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
        return 1;
      }
    }
    const sessions = positive(values.sessions);
    const isolationSeconds = positive(values['isolation-seconds']);
    const thinkMs = positive(values['think-ms']);
    const isolationWarmup = /^\d+$/.test(values['isolation-warmup']) ? Number(values['isolation-warmup']) : undefined;
    if (sessions === undefined || sessions > 1000) return fail('--sessions must be a positive integer up to 1000');
    if (isolationSeconds === undefined || isolationSeconds > 900) return fail('--isolation-seconds must be a positive integer up to 900');
    if (thinkMs === undefined || isolationWarmup === undefined || isolationWarmup > 900) {
      return fail('--think-ms must be a positive integer, --isolation-warmup a whole number up to 900');
    }
    const hostile = values.hostile.split(',').map((a) => a.trim()).filter((a) => a !== '');
    const unknownHostile = hostile.filter((a) => !(HOSTILE_ACTIONS as readonly string[]).includes(a));
    if (hostile.length === 0 || unknownHostile.length > 0) return fail(`--hostile takes ${HOSTILE_ACTIONS.join(', ')}; not ${unknownHostile.join(', ') || '(empty)'}`);
    if (values['isolation-upstream'] !== '') {
      try {
        new URL(values['isolation-upstream']);
      } catch {
        return fail(`--isolation-upstream is not a URL: ${values['isolation-upstream']}`);
      }
    }
    try {
      const { runBench } = await import('../bench/run-bench.ts');
      return await runBench({
        seconds,
        warmupSeconds: warmup,
        clients,
        modes: modes as QueryMode[],
        engine: values.engine,
        upstreamUrl: values.upstream,
        scale,
        decisionRounds,
        activationCommits,
        auditRounds,
        connectSeconds,
        memorySessions,
        outDir: values.out,
        pgbench: values.only !== 'isolation' && !values.soak,
        isolation:
          values.only === 'pgbench'
            ? null
            : {
                sessions,
                warmupSeconds: isolationWarmup,
                phaseSeconds: isolationSeconds,
                thinkMs,
                mode: values.soak ? 'soak' : 'isolation',
                hostile: hostile as HostileAction[],
                upstreamUrl: values['isolation-upstream'] === '' ? null : values['isolation-upstream'],
              },
        print: (line) => process.stdout.write(`${line}\n`),
      });
    } catch (error) {
      process.stderr.write(`gatehouse bench failed: ${error instanceof Error ? error.message : String(error)}\n`);
      return 1;
    }
  },
};

function positive(text: string): number | undefined {
  return /^\d+$/.test(text) && Number(text) > 0 ? Number(text) : undefined;
}

export default benchCommand;
