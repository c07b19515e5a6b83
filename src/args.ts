/**
 * GoBetween's command line (control-plane §1.2, §1.3), parsed without dependencies.
 *
 *   tsbetween [-c FILE] [-f toml|json] [-p PIDFILE] [-e] [-v] [-h]
 *   tsbetween from-file PATH | from-url URL | from-consul HOST:PORT [-k KEY] [-s http|https]
 *
 * Persistent flags (-f, -p, -e, and our --shutdown-grace and --workers) are valid before or after
 * the subcommand. Unlike GoBetween, a usage error is an error (exit 2), not exit 0.
 */
import type { ConfigSource } from './config/types.js';
import { parseDuration } from './core/duration.js';

export type Command =
  | { kind: 'help' }
  | { kind: 'version' }
  | { kind: 'run'; source: ConfigSource; consulScheme: 'http' | 'https' };

/** Data-plane workers: a count, or `auto` (one per available core). */
export type WorkersSetting = number | 'auto';

export interface CliOptions {
  command: Command;
  format: 'toml' | 'json';
  pidfile: string;
  useEnvVars: boolean;
  /** Time active connections get to finish on SIGTERM/SIGINT. */
  shutdownGraceMs: number;
  /** `--workers`, else `TSBETWEEN_WORKERS`, else `auto` (tsbetween-only). */
  workers: WorkersSetting;
}

/** The largest worker count accepted (far above any core count a balancer would use). */
export const MAX_WORKERS = 1024;

/** Parses `N` (1..MAX_WORKERS) or `auto`; `what` names the flag or variable in the error. */
export function parseWorkers(text: string, what: string): WorkersSetting {
  const t = text.trim();
  if (t === 'auto') return 'auto';
  if (/^\d{1,4}$/.test(t)) {
    const n = Number(t);
    if (n >= 1 && n <= MAX_WORKERS) return n;
  }
  throw new UsageError(`${what}: expected a number of workers (1-${MAX_WORKERS}) or "auto", got "${text}"`);
}

export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export const HELP = `tsbetween — a GoBetween-compatible L4 load balancer

Usage:
  tsbetween -c FILE [flags]              run with a config file (same as from-file)
  tsbetween from-file PATH [flags]       run with a config file
  tsbetween from-url URL [flags]         run with a config fetched over HTTP(S)
  tsbetween from-consul HOST:PORT [flags] [-k KEY] [-s http|https]
                                          run with a config from Consul KV (default key "gobetween")
  tsbetween -v | --version               print the version
  tsbetween -h | --help                  print this help

Flags:
  -c, --config PATH              config file (root command only)
  -f, --format toml|json         config format (default toml; not inferred from the extension)
  -p, --pidfile PATH             write the process id to PATH (removed on exit)
  -e, --use-config-env-vars      substitute \${VAR} in the config text before decoding
      --shutdown-grace DURATION  on SIGTERM/SIGINT, time active connections get to finish (default 10s)
      --workers N|auto           data-plane threads (default auto: one per available core; 1 = one thread)
  -k, --key KEY                  Consul KV key (from-consul only, default "gobetween")
  -s, --scheme http|https        Consul scheme (from-consul only, default http)

Environment:
  GOBETWEEN   a JSON array of arguments used instead of the command line
              (e.g. '["from-file","/etc/gobetween.json","-f","json"]'); not allowed together with arguments
  TSBETWEEN_WORKERS  N|auto, the number of data-plane workers when --workers is not given
`;

type FlagName = 'config' | 'format' | 'pidfile' | 'env' | 'version' | 'help' | 'key' | 'scheme' | 'grace' | 'workers';

const FLAGS: Readonly<Record<string, { name: FlagName; value: boolean }>> = {
  '-c': { name: 'config', value: true },
  '--config': { name: 'config', value: true },
  '-f': { name: 'format', value: true },
  '--format': { name: 'format', value: true },
  '-p': { name: 'pidfile', value: true },
  '--pidfile': { name: 'pidfile', value: true },
  '-e': { name: 'env', value: false },
  '--use-config-env-vars': { name: 'env', value: false },
  '-v': { name: 'version', value: false },
  '--version': { name: 'version', value: false },
  '-h': { name: 'help', value: false },
  '--help': { name: 'help', value: false },
  '-k': { name: 'key', value: true },
  '--key': { name: 'key', value: true },
  '-s': { name: 'scheme', value: true },
  '--scheme': { name: 'scheme', value: true },
  '--shutdown-grace': { name: 'grace', value: true },
  '--workers': { name: 'workers', value: true },
};

const SUBCOMMANDS = new Set(['from-file', 'from-url', 'from-consul', 'help']);

/** Resolves the GOBETWEEN environment variable (§1.3). Returns the argv to parse. */
export function argvFromEnv(argv: readonly string[], envValue: string | undefined): string[] {
  if (envValue === undefined || envValue === '') return [...argv];
  if (argv.length > 0) {
    throw new UsageError('Passed GOBETWEEN env var and command-line arguments: only one allowed');
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(envValue);
  } catch (err) {
    throw new UsageError(`Error converting env var to parameters: ${(err as Error).message} ${envValue}`);
  }
  if (!Array.isArray(parsed) || !parsed.every((a): a is string => typeof a === 'string')) {
    throw new UsageError(`Error converting env var to parameters: not a JSON array of strings ${envValue}`);
  }
  return parsed;
}

/**
 * Parses the command line. `env` supplies `TSBETWEEN_WORKERS` (the flag wins over it); it is not
 * read from `process.env` here, so parsing stays pure.
 */
export function parseArgs(argv: readonly string[], env: { readonly TSBETWEEN_WORKERS?: string | undefined } = {}): CliOptions {
  const values: Partial<Record<FlagName, string | true>> = {};
  const positional: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] ?? '';
    if (arg === '--') {
      positional.push(...argv.slice(i + 1));
      break;
    }
    if (arg.startsWith('-') && arg !== '-') {
      const eq = arg.startsWith('--') ? arg.indexOf('=') : -1;
      const flagText = eq >= 0 ? arg.slice(0, eq) : arg;
      let flag = FLAGS[flagText];
      let inline: string | undefined = eq >= 0 ? arg.slice(eq + 1) : undefined;
      // Short flag with an attached value: -cfile.toml
      if (flag === undefined && !arg.startsWith('--') && arg.length > 2) {
        const short = FLAGS[arg.slice(0, 2)];
        if (short !== undefined && short.value) {
          flag = short;
          inline = arg.slice(2);
        }
      }
      if (flag === undefined) throw new UsageError(`unknown flag: ${flagText}`);
      if (flag.value) {
        let v = inline;
        if (v === undefined) {
          v = argv[i + 1];
          i++;
        }
        if (v === undefined) throw new UsageError(`flag needs an argument: ${flagText}`);
        values[flag.name] = v;
      } else {
        if (inline !== undefined) throw new UsageError(`flag takes no argument: ${flagText}`);
        values[flag.name] = true;
      }
      continue;
    }
    positional.push(arg);
  }

  const str = (name: FlagName): string | undefined => {
    const v = values[name];
    return typeof v === 'string' ? v : undefined;
  };

  const formatText = str('format') ?? 'toml';
  if (formatText !== 'toml' && formatText !== 'json') {
    throw new UsageError(`Unknown format ${formatText}`);
  }
  const graceText = str('grace') ?? '10s';
  const grace = parseDuration(graceText);
  if (grace === undefined || grace < 0) {
    throw new UsageError(`--shutdown-grace: invalid duration "${graceText}"`);
  }
  const workersFlag = str('workers');
  const workersEnv = env.TSBETWEEN_WORKERS;
  const workers: WorkersSetting = workersFlag !== undefined ? parseWorkers(workersFlag, '--workers')
    : workersEnv !== undefined && workersEnv !== '' ? parseWorkers(workersEnv, 'TSBETWEEN_WORKERS') : 'auto';
  const base = {
    format: formatText,
    pidfile: str('pidfile') ?? '',
    useEnvVars: values.env === true,
    shutdownGraceMs: grace,
    workers,
  } as const;

  if (values.help === true) return { ...base, command: { kind: 'help' } };

  const sub = positional[0];
  if (sub !== undefined && SUBCOMMANDS.has(sub)) {
    if (sub === 'help') return { ...base, command: { kind: 'help' } };
    if (values.config !== undefined) throw new UsageError(`-c/--config is not valid with ${sub}`);
    if (values.version === true) return { ...base, command: { kind: 'version' } };
    const rest = positional.slice(1);
    if (rest.length !== 1) {
      throw new UsageError(`${sub} needs exactly one argument, got ${rest.length}`);
    }
    const target = rest[0] ?? '';
    if (sub !== 'from-consul' && (values.key !== undefined || values.scheme !== undefined)) {
      throw new UsageError(`-k/--key and -s/--scheme are only valid with from-consul`);
    }
    if (sub === 'from-file') return { ...base, command: { kind: 'run', source: { kind: 'file', path: target }, consulScheme: 'http' } };
    if (sub === 'from-url') return { ...base, command: { kind: 'run', source: { kind: 'url', url: target }, consulScheme: 'http' } };
    const scheme = str('scheme') ?? 'http';
    if (scheme !== 'http' && scheme !== 'https') throw new UsageError(`--scheme must be http or https, got ${scheme}`);
    return {
      ...base,
      command: { kind: 'run', source: { kind: 'consul', host: target, key: str('key') ?? 'gobetween' }, consulScheme: scheme },
    };
  }
  if (sub !== undefined) throw new UsageError(`unknown command "${sub}"`);
  if (values.key !== undefined || values.scheme !== undefined) {
    throw new UsageError(`-k/--key and -s/--scheme are only valid with from-consul`);
  }
  if (values.version === true) return { ...base, command: { kind: 'version' } };
  const config = str('config');
  if (config === undefined || config === '') return { ...base, command: { kind: 'help' } };
  return { ...base, command: { kind: 'run', source: { kind: 'file', path: config }, consulScheme: 'http' } };
}
