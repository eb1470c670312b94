// Colour for people at a terminal, nothing for pipes, files, --no-color or NO_COLOR. Pure: the
// caller decides whether colour is on; node:util's styleText does the escapes.
import { styleText } from 'node:util';

export interface Style {
  readonly enabled: boolean;
  bold(text: string): string;
  dim(text: string): string;
  red(text: string): string;
  green(text: string): string;
  yellow(text: string): string;
  cyan(text: string): string;
  /** A Rollout, AnalysisRun or measurement phase in its colour. */
  phase(text: string): string;
}

const PHASE_COLOUR: Record<string, 'green' | 'yellow' | 'red' | 'cyan'> = {
  Healthy: 'green',
  Successful: 'green',
  Running: 'cyan',
  Progressing: 'cyan',
  Pending: 'cyan',
  Paused: 'yellow',
  Inconclusive: 'yellow',
  Degraded: 'red',
  Failed: 'red',
  Error: 'red',
};

export function makeStyle(enabled: boolean): Style {
  const paint = (format: Parameters<typeof styleText>[0]) => (text: string) => (enabled && text ? styleText(format, text, { validateStream: false }) : text);
  const colours = { red: paint('red'), green: paint('green'), yellow: paint('yellow'), cyan: paint('cyan') };
  return {
    enabled,
    bold: paint('bold'),
    dim: paint('dim'),
    ...colours,
    phase: (text) => {
      const colour = PHASE_COLOUR[text];
      return colour ? colours[colour](text) : text;
    },
  };
}

/** Colour only on a terminal, and never with --no-color or NO_COLOR (https://no-color.org); FORCE_COLOR forces it. */
export function colourWanted(opts: { noColor?: boolean | undefined; isTTY?: boolean | undefined; env: Readonly<Record<string, string | undefined>> }): boolean {
  if (opts.noColor) return false;
  if (opts.env.NO_COLOR !== undefined && opts.env.NO_COLOR !== '') return false;
  if (opts.env.FORCE_COLOR !== undefined && opts.env.FORCE_COLOR !== '0') return true;
  if (opts.env.TERM === 'dumb') return false;
  return opts.isTTY === true;
}
