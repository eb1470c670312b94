// What every command shares: the global flags (kubectl's), output with or without colour, and
// one cluster connection made on first use.
import type { Command } from 'commander';
import { dump } from 'js-yaml';
import { CliError, EXIT, usageError, type CliIo, type Connection, type ExitCode } from '../io.ts';
import { colourWanted, makeStyle, type Style } from '../view/style.ts';

export interface GlobalOptions {
  kubeconfig?: string;
  context?: string;
  namespace?: string;
  allNamespaces?: boolean;
  color: boolean;
}

export class Runtime {
  readonly io: CliIo;
  private readonly program: Command;
  private connection?: Promise<Connection>;
  exitCode: ExitCode = EXIT.ok;

  constructor(io: CliIo, program: Command) {
    this.io = io;
    this.program = program;
  }

  globals(): GlobalOptions {
    return this.program.opts<GlobalOptions>();
  }

  /** Colour on stdout only for a terminal, never with --no-color or NO_COLOR. */
  style(): Style {
    return makeStyle(colourWanted({ noColor: !this.globals().color, isTTY: this.io.stdout.isTTY, env: this.io.env }));
  }

  errStyle(): Style {
    return makeStyle(colourWanted({ noColor: !this.globals().color, isTTY: this.io.stderr.isTTY, env: this.io.env }));
  }

  connect(): Promise<Connection> {
    const g = this.globals();
    this.connection ??= this.io.connect({ kubeconfig: g.kubeconfig, context: g.context, namespace: g.namespace });
    return this.connection;
  }

  /** The namespace to list in: undefined with -A (all namespaces). */
  async listNamespace(): Promise<string | undefined> {
    const conn = await this.connect();
    return this.globals().allNamespaces ? undefined : conn.namespace;
  }

  /** -A makes no sense for commands about one object. */
  refuseAllNamespaces(command: string): void {
    if (this.globals().allNamespaces) throw usageError(`${command} acts on one object: -A/--all-namespaces does not apply (use -n NAMESPACE)`);
  }

  out(text: string): void {
    this.io.stdout.write(text);
  }

  err(text: string): void {
    this.io.stderr.write(text);
  }

  warn(text: string): void {
    const s = this.errStyle();
    this.io.stderr.write(`${s.yellow('Warning:')} ${text}\n`);
  }

  fail(message: string, exitCode: ExitCode = EXIT.failed): never {
    throw new CliError(message, exitCode);
  }
}

export type OutputFormat = 'json' | 'yaml' | 'wide' | 'text';

/** Objects as kubectl prints them for -o json / -o yaml. */
export function serialise(value: unknown, format: 'json' | 'yaml'): string {
  return format === 'json' ? `${JSON.stringify(value, null, 2)}\n` : dump(value, { lineWidth: -1, noRefs: true });
}

export function parseOutput(value: string | undefined, allowed: readonly OutputFormat[]): OutputFormat {
  if (value === undefined) return 'text';
  if (!(allowed as readonly string[]).includes(value)) {
    throw usageError(`unsupported output format "${value}": use ${allowed.filter((f) => f !== 'text').join(', ')}`);
  }
  return value as OutputFormat;
}

/** A duration flag such as --timeout 10m (0 = none). */
export function parseDurationFlag(value: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim());
  const units: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  if (m) return Math.round(Number(m[1]) * (units[m[2] ?? 's'] as number));
  // Compound forms such as 1h30m.
  const parts = [...value.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)];
  if (parts.length > 0 && parts.map((p) => p[0]).join('') === value.trim())
    return parts.reduce((n, p) => n + Number(p[1]) * (units[p[2] as string] as number), 0);
  throw usageError(`${flag}: "${value}" is not a duration (e.g. 90s, 10m, 1h30m; 0 for none)`);
}
