// Shell completion. `kubectl sluice __complete WORDS… CURRENT` answers in the protocol kubectl
// uses for plugins (cobra's: one candidate per line, "value<TAB>description", then ":<directive>"),
// so the kubectl_complete-sluice executable makes `kubectl sluice <TAB>` work in kubectl's own
// completion, and `kubectl sluice completion bash|zsh` prints scripts for the kubectl-sluice
// command itself that ask the same question. Candidates come from the commander program (commands,
// options) and from the cluster (names of Rollouts, GitSyncs, AnalysisRuns, namespaces).
import type { Command, Option } from 'commander';
import { kinds, type KubeObject, type ResourceKind } from '../../ports/kube.ts';
import { usageError, type CliIo, type KubeFlags } from '../io.ts';
import { LISTABLE } from './list.ts';
import type { Runtime } from './runtime.ts';

/** cobra's ShellCompDirective bits, which kubectl passes on to the shell. */
export const DIRECTIVE = { default: 0, error: 1, noSpace: 2, noFileComp: 4 } as const;

interface Candidate {
  value: string;
  description?: string;
}

interface Answer {
  candidates: Candidate[];
  directive: number;
}

const LOOKUP_TIMEOUT_MS = 3000;

/** Options whose value is a file name: the shell completes files. */
const FILE_OPTIONS = new Set(['--filename', '--kubeconfig']);
const NAMESPACE_OPTIONS = new Set(['--namespace', '--controller-namespace']);

function allOptions(cmd: Command): Option[] {
  const out: Option[] = [];
  for (let c: Command | null = cmd; c; c = c.parent) out.push(...c.options);
  return out;
}

function findOption(cmd: Command, word: string): Option | undefined {
  return allOptions(cmd).find((o) => o.long === word || o.short === word);
}

const takesValue = (o: Option) => o.required || o.optional;

function subcommand(cmd: Command, word: string): Command | undefined {
  return cmd.commands.find((c) => c.name() === word || c.aliases().includes(word));
}

/** What to look up in the cluster for the positional argument at `index` of the command `path`. */
function positional(path: string, index: number): 'rollouts' | 'gitsyncs' | 'analysis' | 'kinds' | 'resources' | 'shells' | 'images' | undefined {
  switch (path) {
    case 'list':
      return index === 0 ? 'kinds' : undefined;
    case 'get rollout':
    case 'status':
    case 'promote':
    case 'abort':
    case 'retry':
    case 'pause':
    case 'resume':
    case 'undo':
    case 'restart':
      return index === 0 ? 'rollouts' : undefined;
    case 'set image':
      return index === 0 ? 'rollouts' : 'images';
    case 'analysis':
      return index === 0 ? 'analysis' : undefined;
    case 'sync':
      return index === 0 ? 'gitsyncs' : undefined;
    case 'completion':
      return index === 0 ? 'shells' : undefined;
    default:
      return undefined;
  }
}

export async function complete(program: Command, words: readonly string[], io: CliIo): Promise<string> {
  const answer = await answerFor(program, words, io).catch((): Answer => ({ candidates: [], directive: DIRECTIVE.error }));
  const current = words[words.length - 1] ?? '';
  const lines = answer.candidates
    .filter((c) => c.value.startsWith(current))
    .map((c) => (c.description ? `${c.value}\t${c.description.replace(/\s+/g, ' ')}` : c.value));
  return `${[...lines, `:${answer.directive}`].join('\n')}\n`;
}

async function answerFor(program: Command, words: readonly string[], io: CliIo): Promise<Answer> {
  const current = words[words.length - 1] ?? '';
  const before = words.slice(0, -1);
  let cmd = program;
  const path: string[] = [];
  const args: string[] = [];
  const flags: KubeFlags = {};
  let pendingOption: Option | undefined;
  for (const word of before) {
    if (pendingOption) {
      remember(flags, pendingOption, word);
      pendingOption = undefined;
      continue;
    }
    if (word.startsWith('-') && word !== '-') {
      const [name, value] = word.includes('=') ? [word.slice(0, word.indexOf('=')), word.slice(word.indexOf('=') + 1)] : [word, undefined];
      const option = findOption(cmd, name);
      if (option && takesValue(option)) {
        if (value !== undefined) remember(flags, option, value);
        else pendingOption = option;
      }
      continue;
    }
    const sub = args.length === 0 ? subcommand(cmd, word) : undefined;
    if (sub) {
      cmd = sub;
      path.push(sub.name());
    } else {
      args.push(word);
    }
  }
  if (pendingOption) return optionValues(pendingOption, flags, io);
  if (current.startsWith('-')) {
    const options = allOptions(cmd).filter((o) => !o.hidden && o.long && o.long !== '--version');
    return {
      candidates: [...options.map((o) => ({ value: o.long as string, description: o.description })), { value: '--help', description: 'show help' }],
      directive: DIRECTIVE.noFileComp,
    };
  }
  const visible = cmd
    .createHelp()
    .visibleCommands(cmd)
    .filter((c) => c.name() !== 'help');
  if (visible.length > 0 && args.length === 0) {
    return { candidates: visible.map((c) => ({ value: c.name(), description: c.summary() || c.description() })), directive: DIRECTIVE.noFileComp };
  }
  const want = positional(path.join(' '), args.length);
  switch (want) {
    case 'kinds':
      return { candidates: LISTABLE.map((l) => ({ value: l.words[0] as string })), directive: DIRECTIVE.noFileComp };
    case 'shells':
      return { candidates: [{ value: 'bash' }, { value: 'zsh' }], directive: DIRECTIVE.noFileComp };
    case 'rollouts':
      return names(io, flags, [kinds.rollout]);
    case 'gitsyncs':
      return names(io, flags, [kinds.gitSync]);
    case 'analysis':
      return names(io, flags, [kinds.rollout, kinds.analysisRun]);
    case 'images':
      return containerNames(io, flags, args[0] as string);
    default:
      return { candidates: [], directive: DIRECTIVE.noFileComp };
  }
}

function remember(flags: KubeFlags, option: Option, value: string): void {
  if (option.long === '--namespace') flags.namespace = value;
  else if (option.long === '--context') flags.context = value;
  else if (option.long === '--kubeconfig') flags.kubeconfig = value;
}

async function optionValues(option: Option, flags: KubeFlags, io: CliIo): Promise<Answer> {
  if (FILE_OPTIONS.has(option.long ?? '')) return { candidates: [], directive: DIRECTIVE.default };
  if (NAMESPACE_OPTIONS.has(option.long ?? ''))
    return names(io, { ...flags, namespace: undefined }, [{ apiVersion: 'v1', kind: 'Namespace', plural: 'namespaces', namespaced: false }]);
  if (option.long === '--context') return contexts(flags);
  if (option.long === '--output') {
    const formats = /\b(json|yaml|wide)\b/g;
    const found = [...new Set([...(option.description.matchAll(formats) ?? [])].map((m) => m[1] as string))];
    return { candidates: found.map((value) => ({ value })), directive: DIRECTIVE.noFileComp };
  }
  return { candidates: [], directive: DIRECTIVE.noFileComp };
}

async function withTimeout<T>(work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), LOOKUP_TIMEOUT_MS)))]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

async function names(io: CliIo, flags: KubeFlags, what: readonly ResourceKind[]): Promise<Answer> {
  const conn = await withTimeout(io.connect(flags));
  const lists = await withTimeout(Promise.all(what.map((k) => conn.kube.list(k, k.namespaced ? conn.namespace : undefined))));
  const candidates = lists.flatMap((items: KubeObject[], i) =>
    items.map((o) => ({ value: o.metadata?.name ?? '', description: what.length > 1 ? (what[i] as ResourceKind).kind : '' })),
  );
  return { candidates: candidates.filter((c) => c.value), directive: DIRECTIVE.noFileComp };
}

async function containerNames(io: CliIo, flags: KubeFlags, rollout: string): Promise<Answer> {
  const conn = await withTimeout(io.connect(flags));
  const obj = (await withTimeout(conn.kube.get(kinds.rollout, conn.namespace, rollout))) as Record<string, any> | undefined;
  const containers: Array<{ name?: string; image?: string }> = [
    ...(obj?.spec?.template?.spec?.containers ?? []),
    ...(obj?.spec?.template?.spec?.initContainers ?? []),
  ];
  return {
    candidates: containers.filter((c) => c.name).map((c) => ({ value: `${c.name}=`, description: `now ${c.image ?? '(no image)'}` })),
    directive: DIRECTIVE.noSpace | DIRECTIVE.noFileComp,
  };
}

async function contexts(flags: KubeFlags): Promise<Answer> {
  const { loadKubeConfig } = await import('../../adapters/kube/client.ts');
  const config = loadKubeConfig(flags.kubeconfig);
  return { candidates: config.contexts.map((c) => ({ value: c.name, description: `cluster ${c.cluster}` })), directive: DIRECTIVE.noFileComp };
}

const BASH = `# bash completion for kubectl-sluice (kubectl sluice completion bash)
_kubectl_sluice() {
  local cur out directive line
  cur="\${COMP_WORDS[COMP_CWORD]}"
  out=$(kubectl-sluice __complete "\${COMP_WORDS[@]:1:COMP_CWORD-1}" "$cur" 2>/dev/null) || return
  directive=\${out##*:}
  COMPREPLY=()
  while IFS='' read -r line; do
    [[ -z $line || $line == :* ]] && continue
    COMPREPLY+=("\${line%%$'\\t'*}")
  done <<< "$out"
  if (( \${#COMPREPLY[@]} == 0 )) && (( (directive & 4) == 0 )); then
    COMPREPLY=($(compgen -f -- "$cur"))
  fi
  if (( directive & 2 )); then compopt -o nospace 2>/dev/null; fi
}
complete -o default -F _kubectl_sluice kubectl-sluice
`;

const ZSH = `#compdef kubectl-sluice
# zsh completion for kubectl-sluice (kubectl sluice completion zsh)
_kubectl_sluice() {
  local out directive line
  local -a comps
  out=$(kubectl-sluice __complete "\${(@)words[2,CURRENT-1]}" "\${words[CURRENT]}" 2>/dev/null) || return
  directive=\${\${(f)out}[-1]#:}
  for line in "\${(@f)out}"; do
    [[ -z $line || $line == :* ]] && continue
    comps+=("\${\${line%%$'\\t'*}//:/\\\\:}:\${line#*$'\\t'}")
  done
  if (( \${#comps} > 0 )); then
    if (( directive & 2 )); then _describe -t values 'kubectl-sluice' comps -S ''; else _describe -t values 'kubectl-sluice' comps; fi
  elif (( (directive & 4) == 0 )); then
    _files
  fi
}
if [[ $zsh_eval_context[-1] == loadautofunc ]]; then _kubectl_sluice "$@"; else compdef _kubectl_sluice kubectl-sluice; fi
`;

export function registerCompletion(program: Command, rt: Runtime): void {
  program
    .command('completion')
    .summary('print a bash or zsh completion script')
    .description(
      'Print a completion script for the kubectl-sluice command. For `kubectl sluice <TAB>` (kubectl 1.26 or newer) nothing is needed beyond ' +
        "kubectl's own completion: the kubectl_complete-sluice executable installed beside kubectl-sluice answers kubectl's questions.",
    )
    .argument('<shell>', 'bash or zsh')
    .addHelpText(
      'after',
      `
Examples:
  source <(kubectl sluice completion bash)                 # in ~/.bashrc
  kubectl sluice completion zsh > "\${fpath[1]}/_kubectl-sluice"`,
    )
    .action((shell: string) => {
      if (shell === 'bash') rt.out(BASH);
      else if (shell === 'zsh') rt.out(ZSH);
      else throw usageError(`no completion for "${shell}": use bash or zsh`);
    });
}
