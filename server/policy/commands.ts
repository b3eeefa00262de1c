// What Airlock knows about programs: which ones run other commands
// (wrappers, interpreters), how their options are spelled, and which of their
// arguments are files they read or write. The shell parser uses this to
// unwrap `timeout 5 rm …`; the policy uses it to see `cp x .git/config`.
import type { PathRef } from "./glob";
import { resolveLexically } from "./paths";
import type { Redirection, ShellArg, SimpleCommand } from "./shell";

/** Directories whose programs are the system's own: `/usr/bin/ls` is `ls`. */
export const SYSTEM_BIN_DIRS = ["/bin", "/usr/bin", "/usr/local/bin", "/sbin", "/usr/sbin", "/usr/local/sbin"];

/**
 * The name a rule matches a program by. A bare name is itself; a path into a
 * system bin directory is its base name; any other path (`./ls`,
 * `/workspace/ls`, `/tmp/x`) has no name: no rule for `ls` may match it.
 */
export function canonicalProgram(program: string, cwds: readonly string[]): string | null {
  if (!program.includes("/")) return program;
  let name: string | null = null;
  for (const cwd of cwds) {
    const resolved = resolveLexically(program, cwd);
    const slash = resolved.lastIndexOf("/");
    const dir = resolved.slice(0, slash) || "/";
    const base = resolved.slice(slash + 1);
    if (!base || !SYSTEM_BIN_DIRS.includes(dir)) return null;
    if (name !== null && name !== base) return null;
    name = base;
  }
  return name;
}

// ---------------------------------------------------------------------------
// Option scanning

export interface OptionSpec {
  /** Options that take the next argument as their value: "-n", "--adjustment", "-exec". */
  valueOptions?: readonly string[];
}

export interface ScannedOption {
  index: number;
  /** "-n", "--adjustment", or a short cluster such as "-rf". */
  name: string;
  value?: string;
}

export interface ArgScan {
  options: ScannedOption[];
  /** Indexes (into args) of operands, in order. */
  operands: number[];
  /** Index of the first operand, or args.length. */
  firstOperand: number;
}

function isOptionLike(arg: ShellArg): boolean {
  return arg.static && arg.value.length > 1 && arg.value.startsWith("-");
}

/**
 * Splits args[from…] into options and operands the getopt way. With
 * `stopAtOperand` scanning ends at the first operand (a wrapper's command).
 */
export function scanArgs(args: readonly ShellArg[], from: number, spec: OptionSpec, stopAtOperand = false): ArgScan {
  const valueOptions = spec.valueOptions ?? [];
  const options: ScannedOption[] = [];
  const operands: number[] = [];
  let firstOperand = args.length;
  for (let i = from; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.static && arg.value === "--") {
      for (let j = i + 1; j < args.length; j++) operands.push(j);
      if (i + 1 < args.length) firstOperand = Math.min(firstOperand, i + 1);
      break;
    }
    if (!isOptionLike(arg)) {
      operands.push(i);
      firstOperand = Math.min(firstOperand, i);
      if (stopAtOperand) {
        for (let j = i + 1; j < args.length; j++) operands.push(j);
        break;
      }
      continue;
    }
    const text = arg.value;
    if (valueOptions.includes(text)) {
      options.push({ index: i, name: text, value: args[i + 1]?.value });
      i++;
      continue;
    }
    if (text.startsWith("--")) {
      const eq = text.indexOf("=");
      options.push(eq === -1 ? { index: i, name: text } : { index: i, name: text.slice(0, eq), value: text.slice(eq + 1) });
      continue;
    }
    // A short cluster: the first letter that takes a value ends it.
    let consumedNext = false;
    for (let k = 1; k < text.length; k++) {
      if (valueOptions.includes(`-${text[k]}`)) {
        const attached = text.slice(k + 1);
        if (attached) options.push({ index: i, name: text.slice(0, k + 1), value: attached });
        else {
          options.push({ index: i, name: text, value: args[i + 1]?.value });
          consumedNext = true;
        }
        break;
      }
      if (k === text.length - 1) options.push({ index: i, name: text });
    }
    if (consumedNext) i++;
  }
  return { options, operands, firstOperand };
}

/**
 * Whether an option is present. "-r" matches "-r" and any short cluster
 * holding r ("-rf"); "--recursive" matches "--recursive" and
 * "--recursive=…"; single-dash words ("-exec") match exactly.
 */
export function hasOption(args: readonly ShellArg[], from: number, option: string): boolean {
  const short = /^-[^-]$/.test(option);
  const letter = option[1];
  for (let i = from; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.static) continue;
    const text = arg.value;
    if (text === "--") return false;
    if (text === option) return true;
    if (option.startsWith("--")) {
      // getopt_long accepts any unambiguous prefix: `rm --rec` is `rm --recursive`.
      const given = text.includes("=") ? text.slice(0, text.indexOf("=")) : text;
      if (given.startsWith("--") && given.length > 3 && option.startsWith(given)) return true;
      continue;
    }
    if (short && /^-[A-Za-z0-9]{2,}$/.test(text) && text.includes(letter!, 1)) return true;
  }
  return false;
}

// ---------------------------------------------------------------------------
// Wrappers: programs that run the command given in their arguments

export type WrapperKind = "transparent" | "exec" | "privilege" | "xargs" | "shell-string" | "applet";

export interface WrapperSpec extends OptionSpec {
  kind: WrapperKind;
  /** Operands before the wrapped command (`timeout DURATION`, `chroot DIR`). */
  leadingOperands?: number;
  /** NAME=VALUE operands before the command (`env`). */
  assignments?: boolean;
  /** Options after which no command runs (`command -v`). */
  noCommandOptions?: readonly string[];
  /** Options whose value is shell code (`su -c`, `flock -c`). */
  codeOptions?: readonly string[];
  /** Options whose value is split into a command line (`env -S`). */
  splitOptions?: readonly string[];
  /** Operands are not a command at all (`su USER`). */
  operandsAreNotCommands?: boolean;
  /** Options that change the directory the command runs in (`env -C DIR`). */
  chdirOptions?: readonly string[];
}

const SUDO_VALUE_OPTIONS = [
  "-u",
  "-g",
  "-h",
  "-p",
  "-C",
  "-r",
  "-t",
  "-U",
  "-D",
  "-T",
  "-R",
  "--user",
  "--group",
  "--host",
  "--prompt",
  "--close-from",
  "--role",
  "--type",
  "--other-user",
  "--chdir",
  "--command-timeout",
  "--chroot",
];

export const WRAPPERS: Readonly<Record<string, WrapperSpec>> = {
  env: {
    kind: "transparent",
    valueOptions: ["-u", "--unset", "-C", "--chdir", "-S", "--split-string"],
    assignments: true,
    splitOptions: ["-S", "--split-string"],
    chdirOptions: ["-C", "--chdir"],
  },
  nice: { kind: "transparent", valueOptions: ["-n", "--adjustment"] },
  timeout: { kind: "transparent", valueOptions: ["-s", "--signal", "-k", "--kill-after"], leadingOperands: 1 },
  nohup: { kind: "transparent" },
  stdbuf: { kind: "transparent", valueOptions: ["-i", "-o", "-e", "--input", "--output", "--error"] },
  time: { kind: "transparent", valueOptions: ["-f", "--format", "-o", "--output"] },
  command: { kind: "transparent", noCommandOptions: ["-v", "-V"] },
  builtin: { kind: "transparent" },
  setsid: { kind: "transparent" },
  ionice: { kind: "transparent", valueOptions: ["-c", "-n", "--class", "--classdata"], noCommandOptions: ["-p", "--pid", "-P", "--pgid", "-u", "--uid"] },
  taskset: { kind: "transparent", leadingOperands: 1, noCommandOptions: ["-p", "--pid"] },
  chrt: { kind: "transparent", leadingOperands: 1, noCommandOptions: ["-p", "--pid"] },
  unbuffer: { kind: "transparent" },
  strace: { kind: "transparent", valueOptions: ["-o", "-e", "-p", "-s", "-u", "-E", "-a", "-b", "-I", "-O", "-S", "-P", "-X"] },
  ltrace: { kind: "transparent", valueOptions: ["-o", "-e", "-p", "-s", "-u", "-a", "-n", "-l"] },
  exec: { kind: "exec", valueOptions: ["-a"] },
  sudo: { kind: "privilege", valueOptions: SUDO_VALUE_OPTIONS, noCommandOptions: ["-l", "--list", "-v", "--validate", "-k", "-K", "-V"] },
  doas: { kind: "privilege", valueOptions: ["-u", "-C"] },
  pkexec: { kind: "privilege", valueOptions: ["--user"] },
  runuser: { kind: "privilege", valueOptions: ["-u", "-g", "-G", "--user", "--group", "--supp-group", "-s", "--shell"], codeOptions: ["-c", "--command"] },
  su: {
    kind: "privilege",
    valueOptions: ["-s", "--shell", "-g", "--group", "-G", "--supp-group", "-w", "--whitelist-environment"],
    codeOptions: ["-c", "--command", "--session-command"],
    operandsAreNotCommands: true,
  },
  chroot: { kind: "privilege", valueOptions: ["--userspec", "--groups"], leadingOperands: 1 },
  xargs: {
    kind: "xargs",
    valueOptions: [
      "-a",
      "-d",
      "-E",
      "-I",
      "-L",
      "-n",
      "-P",
      "-s",
      "--arg-file",
      "--delimiter",
      "--eof",
      "--replace",
      "--max-lines",
      "--max-args",
      "--max-procs",
      "--max-chars",
      "--process-slot-var",
    ],
  },
  watch: { kind: "shell-string", valueOptions: ["-n", "--interval", "-q", "--equexit"] },
  flock: { kind: "transparent", valueOptions: ["-w", "--timeout", "-E", "--conflict-exit-code"], leadingOperands: 1, codeOptions: ["-c", "--command"] },
  busybox: { kind: "applet" },
  toybox: { kind: "applet" },
};

export interface WrappedCommand {
  /** Index in args where the wrapped command starts, if one runs. */
  innerStart?: number;
  /** Shell code given as an option value (`su -c CODE`) or joined (`watch CMD…`). */
  code?: ShellArg;
  /** Env assignments made for the inner command (`env PATH=… cmd`). */
  assignments: { name: string; value: string }[];
  /** `env -S STRING`: a command line split by env itself. */
  split?: ShellArg;
  /** `env -C DIR`: the directory the wrapped command runs in. */
  chdir?: string;
}

export function unwrapCommand(spec: WrapperSpec, args: readonly ShellArg[]): WrappedCommand {
  const result: WrappedCommand = { assignments: [] };
  if (spec.kind === "applet") {
    if (args.length > 1 && !(args[1]!.static && args[1]!.value.startsWith("-"))) result.innerStart = 1;
    return result;
  }
  const scan = scanArgs(args, 1, spec, true);
  for (const option of scan.options) {
    if (spec.noCommandOptions?.includes(option.name)) return result;
    const long = option.name.startsWith("--");
    const letters = long
      ? []
      : option.name
          .slice(1)
          .split("")
          .map((c) => `-${c}`);
    if (!long && spec.noCommandOptions?.some((o) => letters.includes(o))) return result;
    if (spec.codeOptions?.includes(option.name) || (!long && spec.codeOptions?.some((o) => o.length === 2 && letters.at(-1) === o))) {
      const value = option.value;
      const source = value !== undefined ? args.find((a, i) => i > option.index && a.value === value) : undefined;
      result.code = source ?? (value !== undefined ? literalArg(value) : undefined);
    }
    if (spec.chdirOptions?.includes(option.name) && option.value !== undefined) result.chdir = option.value;
    if (spec.splitOptions?.includes(option.name) && option.value !== undefined) {
      result.split = args[option.index + 1] ?? literalArg(option.value);
    }
  }
  if (spec.operandsAreNotCommands) return result;
  let i = scan.firstOperand;
  for (let skip = spec.leadingOperands ?? 0; skip > 0 && i < args.length; skip--) i++;
  if (spec.assignments) {
    while (i < args.length && args[i]!.static && /^[A-Za-z_][A-Za-z0-9_]*=/.test(args[i]!.value)) {
      const text = args[i]!.value;
      const eq = text.indexOf("=");
      result.assignments.push({ name: text.slice(0, eq), value: text.slice(eq + 1) });
      i++;
    }
  }
  if (spec.kind === "shell-string") {
    if (i < args.length) result.code = joinArgs(args.slice(i));
    return result;
  }
  if (i < args.length) result.innerStart = i;
  return result;
}

function literalArg(value: string): ShellArg {
  return { value, text: value, static: true, glob: false };
}

function joinArgs(args: readonly ShellArg[]): ShellArg {
  return {
    value: args.map((a) => a.value).join(" "),
    text: args.map((a) => a.text).join(" "),
    static: args.every((a) => a.static),
    glob: false,
  };
}

// ---------------------------------------------------------------------------
// Interpreters: programs that run code given inline, from a file or stdin

export interface InterpreterSpec extends OptionSpec {
  language: "shell" | "other";
  /** Options whose value is code (`-e`); for shells, `c` marks "code is the first operand". */
  codeOptions: readonly string[];
  /** Options whose value names a module or script to run (`python -m`). */
  scriptOptions?: readonly string[];
  /** The first operand is the program text (awk) unless a script option is given. */
  codeOperand?: boolean;
}

const SHELL_SPEC: InterpreterSpec = {
  language: "shell",
  codeOptions: ["-c"],
  valueOptions: ["-o", "+o", "-O", "+O", "--rcfile", "--init-file"],
};
const PYTHON_SPEC: InterpreterSpec = { language: "other", codeOptions: ["-c"], scriptOptions: ["-m"], valueOptions: ["-W", "-X", "-c", "-m"] };
const NODE_SPEC: InterpreterSpec = {
  language: "other",
  codeOptions: ["-e", "--eval", "-p", "--print"],
  scriptOptions: ["-r", "--require", "--import", "--loader", "--experimental-loader"],
  valueOptions: [
    "-e",
    "--eval",
    "-p",
    "--print",
    "-r",
    "--require",
    "--import",
    "--loader",
    "--experimental-loader",
    "--input-type",
    "-C",
    "--conditions",
    "--env-file",
    "--title",
  ],
};
const PERL_SPEC: InterpreterSpec = { language: "other", codeOptions: ["-e", "-E"], valueOptions: ["-e", "-E", "-I", "-M", "-m"] };
const AWK_SPEC: InterpreterSpec = {
  language: "other",
  codeOptions: [],
  scriptOptions: ["-f", "--file"],
  codeOperand: true,
  valueOptions: ["-F", "-v", "-f", "--file", "--field-separator", "--assign"],
};

const INTERPRETERS: Readonly<Record<string, InterpreterSpec>> = {
  sh: SHELL_SPEC,
  bash: SHELL_SPEC,
  dash: SHELL_SPEC,
  zsh: SHELL_SPEC,
  ksh: SHELL_SPEC,
  mksh: SHELL_SPEC,
  ash: SHELL_SPEC,
  rbash: SHELL_SPEC,
  yash: SHELL_SPEC,
  posh: SHELL_SPEC,
  fish: SHELL_SPEC,
  csh: SHELL_SPEC,
  tcsh: SHELL_SPEC,
  python: PYTHON_SPEC,
  python2: PYTHON_SPEC,
  python3: PYTHON_SPEC,
  pypy: PYTHON_SPEC,
  pypy3: PYTHON_SPEC,
  node: NODE_SPEC,
  nodejs: NODE_SPEC,
  bun: NODE_SPEC,
  perl: PERL_SPEC,
  ruby: { language: "other", codeOptions: ["-e"], valueOptions: ["-e", "-I", "-r"] },
  php: { language: "other", codeOptions: ["-r"], valueOptions: ["-r", "-d", "-c"] },
  lua: { language: "other", codeOptions: ["-e"], valueOptions: ["-e", "-l"] },
  luajit: { language: "other", codeOptions: ["-e"], valueOptions: ["-e", "-l"] },
  Rscript: { language: "other", codeOptions: ["-e"], valueOptions: ["-e"] },
  julia: { language: "other", codeOptions: ["-e", "-E"], valueOptions: ["-e", "-E"] },
  osascript: { language: "other", codeOptions: ["-e"], valueOptions: ["-e"] },
  pwsh: { language: "other", codeOptions: ["-c", "-Command", "-command"], valueOptions: ["-c", "-Command", "-command"] },
  tclsh: { language: "other", codeOptions: [] },
  awk: AWK_SPEC,
  gawk: AWK_SPEC,
  mawk: AWK_SPEC,
  nawk: AWK_SPEC,
};

export function interpreterSpec(name: string): InterpreterSpec | undefined {
  if (Object.hasOwn(INTERPRETERS, name)) return INTERPRETERS[name];
  if (/^python[0-9.]*$/.test(name) || /^pypy[0-9.]*$/.test(name)) return PYTHON_SPEC;
  return undefined;
}

export type Invocation =
  | { kind: "inline"; code: ShellArg } // code given on the command line
  | { kind: "script" } // code read from a file or module
  | { kind: "stdin" }; // code read from standard input

export function interpreterInvocation(spec: InterpreterSpec, args: readonly ShellArg[]): Invocation {
  if (spec.language === "shell") {
    // bash -c reads code from the first operand; options may share a cluster (-lc, -ec).
    const scan = scanArgs(args, 1, spec, true);
    const hasC = scan.options.some((o) => !o.name.startsWith("--") && o.name.startsWith("-") && o.name.includes("c"));
    const first = args[scan.firstOperand];
    if (hasC) return first ? { kind: "inline", code: first } : { kind: "stdin" };
    const readsStdin = scan.options.some((o) => !o.name.startsWith("--") && o.name.startsWith("-") && o.name.includes("s"));
    if (!first || readsStdin || (first.static && first.value === "-")) return { kind: "stdin" };
    return { kind: "script" };
  }
  const scan = scanArgs(args, 1, spec, true);
  for (const option of scan.options) {
    const code = spec.codeOptions.find((o) => o === option.name || (o.length === 2 && !option.name.startsWith("--") && option.name.endsWith(o[1]!)));
    if (code) {
      const source = args[option.index + 1] && option.value === args[option.index + 1]!.value ? args[option.index + 1]! : literalArg(option.value ?? "");
      return { kind: "inline", code: source };
    }
    if (spec.scriptOptions?.includes(option.name)) return { kind: "script" };
  }
  const first = args[scan.firstOperand];
  if (spec.codeOperand) return first ? { kind: "inline", code: first } : { kind: "stdin" };
  if (!first || (first.static && first.value === "-")) return { kind: "stdin" };
  return { kind: "script" };
}

// ---------------------------------------------------------------------------
// Effects: which files a command reads and writes

interface ProgramSpec extends OptionSpec {
  /** Leading operands that are not paths (grep's pattern, chmod's mode); "all" for echo. */
  nonPathOperands?: number | "all";
  /** With one of these the leading non-path operand is absent (grep -e PATTERN). */
  patternOptions?: readonly string[];
  /** Which operands are written: all, the last one (cp), or none (default). */
  writes?: "operands" | "last-operand";
  /** Options whose value is a file written (sort -o) or read (grep -f). */
  writeOptions?: readonly string[];
  readOptions?: readonly string[];
  /** Options that make the operands written in place (sed -i). */
  inPlaceOptions?: readonly string[];
  /** Options naming the target directory (cp -t). */
  targetDirOptions?: readonly string[];
  /** Always recursive, or recursive with one of these options. */
  recursive?: true | readonly string[];
  /** Options after which there is no leading pattern operand (rg --files). */
  noPatternOptions?: readonly string[];
}

const NO_PATHS: ProgramSpec = { nonPathOperands: "all" };
const GREP: ProgramSpec = {
  nonPathOperands: 1,
  patternOptions: ["-e", "-f", "--regexp", "--file"],
  valueOptions: [
    "-e",
    "-f",
    "-m",
    "-A",
    "-B",
    "-C",
    "-d",
    "-D",
    "--regexp",
    "--file",
    "--max-count",
    "--label",
    "--include",
    "--exclude",
    "--exclude-dir",
    "--exclude-from",
  ],
  readOptions: ["-f", "--file", "--exclude-from"],
  recursive: ["-r", "-R", "--recursive", "--dereference-recursive", "--directories=recurse"],
};
const WRITES_OPERANDS: ProgramSpec = { writes: "operands" };

const PROGRAMS: Readonly<Record<string, ProgramSpec>> = {
  echo: NO_PATHS,
  printf: NO_PATHS,
  which: NO_PATHS,
  type: NO_PATHS,
  true: NO_PATHS,
  false: NO_PATHS,
  test: NO_PATHS,
  "[": NO_PATHS,
  "[[": NO_PATHS,
  "((": NO_PATHS,
  let: NO_PATHS,
  basename: NO_PATHS,
  dirname: NO_PATHS,
  expr: NO_PATHS,
  seq: NO_PATHS,
  sleep: NO_PATHS,
  date: NO_PATHS,
  kill: NO_PATHS,
  pkill: NO_PATHS,
  killall: NO_PATHS,
  whoami: NO_PATHS,
  id: NO_PATHS,
  uname: NO_PATHS,
  nproc: NO_PATHS,
  yes: NO_PATHS,
  hash: NO_PATHS,
  help: NO_PATHS,
  exit: NO_PATHS,
  return: NO_PATHS,
  shift: NO_PATHS,
  set: NO_PATHS,
  unset: NO_PATHS,
  export: NO_PATHS,
  declare: NO_PATHS,
  local: NO_PATHS,
  readonly: NO_PATHS,
  typeset: NO_PATHS,
  alias: NO_PATHS,
  unalias: NO_PATHS,
  read: NO_PATHS,
  wait: NO_PATHS,
  jobs: NO_PATHS,
  trap: NO_PATHS,
  eval: NO_PATHS,
  curl: {
    nonPathOperands: "all",
    writeOptions: ["-o", "--output", "-D", "--dump-header", "-c", "--cookie-jar", "--trace", "--trace-ascii", "--stderr"],
    readOptions: ["-T", "--upload-file", "-K", "--config"],
    valueOptions: [
      "-o",
      "--output",
      "-D",
      "--dump-header",
      "-c",
      "--cookie-jar",
      "--trace",
      "--trace-ascii",
      "--stderr",
      "-T",
      "--upload-file",
      "-K",
      "--config",
      "-d",
      "--data",
      "-H",
      "--header",
      "-X",
      "--request",
      "-u",
      "--user",
      "-A",
      "--user-agent",
      "-e",
      "--referer",
      "-F",
      "--form",
      "-x",
      "--proxy",
      "-m",
      "--max-time",
    ],
  },
  wget: {
    nonPathOperands: "all",
    writeOptions: ["-O", "--output-document", "-o", "--output-file", "-a", "--append-output", "-P", "--directory-prefix"],
    valueOptions: [
      "-O",
      "--output-document",
      "-o",
      "--output-file",
      "-a",
      "--append-output",
      "-P",
      "--directory-prefix",
      "-U",
      "--user-agent",
      "--header",
      "-e",
      "--execute",
    ],
  },
  ls: {
    recursive: ["-R", "--recursive"],
    valueOptions: [
      "-I",
      "--ignore",
      "-T",
      "--tabsize",
      "-w",
      "--width",
      "--block-size",
      "--hide",
      "--format",
      "--sort",
      "--time",
      "--time-style",
      "--quoting-style",
      "--indicator-style",
    ],
  },
  head: { valueOptions: ["-n", "-c", "--lines", "--bytes"] },
  tail: { valueOptions: ["-n", "-c", "-s", "--lines", "--bytes", "--pid", "--sleep-interval", "--max-unchanged-stats"] },
  stat: { valueOptions: ["-c", "--format", "--printf"] },
  file: {
    valueOptions: ["-m", "-f", "-F", "-e", "-P", "--magic-file", "--files-from", "--separator", "--exclude", "--parameter"],
    readOptions: ["-f", "--files-from"],
  },
  du: {
    recursive: true,
    valueOptions: ["-d", "--max-depth", "-B", "--block-size", "-t", "--threshold", "--exclude", "-X", "--exclude-from", "--time-style", "--files0-from"],
  },
  tree: { recursive: true, valueOptions: ["-L", "-P", "-I", "-o", "--charset", "--filelimit", "--timefmt", "--sort"], writeOptions: ["-o"] },
  sort: {
    valueOptions: [
      "-k",
      "-t",
      "-S",
      "-T",
      "-o",
      "--key",
      "--field-separator",
      "--buffer-size",
      "--temporary-directory",
      "--output",
      "--compress-program",
      "--files0-from",
      "--parallel",
      "--batch-size",
      "--random-source",
    ],
    writeOptions: ["-o", "--output"],
  },
  diff: {
    recursive: ["-r", "--recursive"],
    valueOptions: [
      "-C",
      "-U",
      "-I",
      "-x",
      "-X",
      "-F",
      "-L",
      "--label",
      "--ignore-matching-lines",
      "--exclude",
      "--exclude-from",
      "--from-file",
      "--to-file",
      "--line-format",
      "--horizon-lines",
      "--tabsize",
      "--width",
      "-W",
    ],
  },
  grep: GREP,
  egrep: GREP,
  fgrep: GREP,
  rg: {
    nonPathOperands: 1,
    patternOptions: ["-e", "-f", "--regexp", "--file"],
    noPatternOptions: ["--files", "--type-list"],
    readOptions: ["-f", "--file", "--ignore-file"],
    recursive: true,
    valueOptions: [
      "-e",
      "-f",
      "-g",
      "-t",
      "-T",
      "-m",
      "-A",
      "-B",
      "-C",
      "-j",
      "-M",
      "-r",
      "-E",
      "-d",
      "--regexp",
      "--file",
      "--glob",
      "--iglob",
      "--type",
      "--type-not",
      "--type-add",
      "--max-count",
      "--threads",
      "--max-columns",
      "--replace",
      "--encoding",
      "--pre",
      "--pre-glob",
      "--max-depth",
      "--sort",
      "--sortr",
      "--color",
      "--colors",
      "--context-separator",
      "--field-match-separator",
      "--field-context-separator",
      "--path-separator",
      "--max-filesize",
      "--dfa-size-limit",
      "--regex-size-limit",
      "--engine",
      "--ignore-file",
    ],
  },
  cd: {},
  pushd: {},
  cp: { writes: "last-operand", targetDirOptions: ["-t", "--target-directory"], valueOptions: ["-t", "--target-directory", "-S", "--suffix"] },
  mv: { writes: "operands", targetDirOptions: ["-t", "--target-directory"], valueOptions: ["-t", "--target-directory", "-S", "--suffix"] },
  ln: { writes: "last-operand", targetDirOptions: ["-t", "--target-directory"], valueOptions: ["-t", "--target-directory", "-S", "--suffix"] },
  install: {
    writes: "last-operand",
    targetDirOptions: ["-t", "--target-directory"],
    valueOptions: ["-t", "--target-directory", "-m", "--mode", "-o", "--owner", "-g", "--group", "-S", "--suffix"],
  },
  rsync: { writes: "last-operand", valueOptions: ["-e", "--rsh", "--exclude", "--include", "--filter", "-f"] },
  rm: WRITES_OPERANDS,
  rmdir: WRITES_OPERANDS,
  unlink: WRITES_OPERANDS,
  shred: { writes: "operands", valueOptions: ["-n", "-s", "--iterations", "--size", "--random-source"] },
  touch: { writes: "operands", valueOptions: ["-d", "-r", "-t", "--date", "--reference"] },
  mkdir: { writes: "operands", valueOptions: ["-m", "--mode", "--context"] },
  mkfifo: { writes: "operands", valueOptions: ["-m", "--mode"] },
  mknod: { writes: "operands", valueOptions: ["-m", "--mode"] },
  truncate: { writes: "operands", valueOptions: ["-s", "--size", "-r", "--reference"] },
  chmod: { writes: "operands", nonPathOperands: 1, valueOptions: ["--reference"] },
  chown: { writes: "operands", nonPathOperands: 1, valueOptions: ["--reference", "--from"] },
  chgrp: { writes: "operands", nonPathOperands: 1, valueOptions: ["--reference"] },
  chattr: { writes: "operands", nonPathOperands: 1 },
  setfacl: { writes: "operands", valueOptions: ["-m", "-x", "-M", "-X", "--modify", "--remove", "--set", "--set-file", "--modify-file", "--remove-file"] },
  tee: { writes: "operands", valueOptions: ["--output-error"] },
  sed: {
    nonPathOperands: 1,
    patternOptions: ["-e", "-f", "--expression", "--file"],
    valueOptions: ["-e", "-f", "-l", "--expression", "--file", "--line-length"],
    readOptions: ["-f", "--file"],
    inPlaceOptions: ["-i", "--in-place"],
  },
  perl: { inPlaceOptions: ["-i"], valueOptions: ["-e", "-E", "-I", "-M", "-m"] },
  tar: {
    writeOptions: ["-C", "--directory"],
    valueOptions: ["-C", "--directory", "-f", "--file", "-T", "--files-from", "-X", "--exclude-from", "--exclude", "-b", "-H", "--format"],
  },
  unzip: { writeOptions: ["-d"], valueOptions: ["-d", "-x", "-P"] },
  git: { valueOptions: ["-C", "-c", "--git-dir", "--work-tree", "--namespace", "--config-env", "--exec-path"], writeOptions: ["--output"] },
  time: { writeOptions: ["-o", "--output"], valueOptions: ["-f", "--format", "-o", "--output"] },
  awk: {
    nonPathOperands: 1,
    patternOptions: ["-f", "--file"],
    valueOptions: ["-F", "-v", "-f", "--file", "--field-separator", "--assign"],
    readOptions: ["-f", "--file"],
  },
};

/** Redirection targets that are not files. */
const PSEUDO_FILES = /^\/dev\/(null|zero|stdin|stdout|stderr|tty|fd\/\d+)$|^\/proc\/self\/fd\/\d+$/;

export interface CommandEffects {
  /** Files whose contents the command reads. */
  reads: PathRef[];
  writes: PathRef[];
  /** Paths only looked at, not read (ls, stat, find). */
  lists: PathRef[];
  /** Directories searched or listed recursively. */
  recursiveReads: PathRef[];
}

/** Programs that look at paths (names, sizes, types) without reading contents. */
const METADATA_ONLY = new Set(["ls", "stat", "du", "tree", "file", "realpath", "readlink", "cd", "pushd", "find"]);

function specFor(name: string | null): ProgramSpec | undefined {
  if (name === null) return undefined;
  if (Object.hasOwn(PROGRAMS, name)) return PROGRAMS[name];
  if (/^mkfs(\..*)?$/.test(name)) return WRITES_OPERANDS;
  return undefined;
}

class PathCollector {
  readonly seen = new Set<string>();
  readonly refs: PathRef[] = [];
  constructor(private readonly cwds: readonly string[]) {}
  add(value: string, glob: boolean): void {
    if (value === "") return;
    for (const cwd of this.cwds) {
      const path = resolveLexically(value, cwd);
      const key = `${glob ? 1 : 0}${path}`;
      if (this.seen.has(key)) continue;
      this.seen.add(key);
      this.refs.push({ path, glob });
    }
  }
}

/** `dd if=x of=/dev/sda`, `make DESTDIR=…`: the value of a key=value operand may be a path. */
function splitKeyValue(value: string): string | null {
  const m = /^-{0,2}[A-Za-z_][A-Za-z0-9_.-]*=(.+)$/.exec(value);
  return m ? m[1]! : null;
}

/**
 * The files a command reads and writes, resolved against every working
 * directory it might run in. Over-approximates: an unknown program's
 * operands all count as reads, so credential rules see `python x.py ~/.ssh/id_rsa`.
 */
export function commandEffects(cmd: SimpleCommand): CommandEffects {
  const metadataOnly = cmd.name !== null && METADATA_ONLY.has(cmd.name);
  const contentReads = new PathCollector(cmd.cwds);
  const lists = new PathCollector(cmd.cwds);
  const reads = metadataOnly ? lists : contentReads;
  const writes = new PathCollector(cmd.cwds);
  const recursive = new PathCollector(cmd.cwds);
  const done = (): CommandEffects => ({ reads: contentReads.refs, writes: writes.refs, lists: lists.refs, recursiveReads: recursive.refs });
  for (const redirect of cmd.redirects) addRedirect(redirect, contentReads, writes);
  const name = cmd.name;
  const args = cmd.innerIndex === undefined ? cmd.args : cmd.args.slice(0, cmd.innerIndex);
  if (name === null || args.length === 0) {
    return done();
  }
  if (name === "dd") {
    for (const arg of args.slice(1)) {
      if (!arg.static) continue;
      if (arg.value.startsWith("of=")) writes.add(arg.value.slice(3), arg.glob);
      else if (arg.value.startsWith("if=")) reads.add(arg.value.slice(3), arg.glob);
    }
    return done();
  }
  if (name === "find") {
    findEffects(args, reads, writes, recursive);
    return done();
  }

  const spec = specFor(name) ?? {};
  const scan = scanArgs(args, 1, spec);
  for (const option of scan.options) {
    if (option.value === undefined) continue;
    const glob = args[option.index]?.glob ?? false;
    if (spec.writeOptions?.includes(option.name)) writes.add(option.value, glob);
    else if (spec.readOptions?.includes(option.name) || spec.targetDirOptions?.includes(option.name)) {
      (spec.targetDirOptions?.includes(option.name) ? writes : reads).add(option.value, glob);
    } else if (spec.nonPathOperands !== "all" && option.name.startsWith("--") && /[/~.]/.test(option.value)) {
      reads.add(option.value, glob);
    }
  }
  if (spec.nonPathOperands === "all") return done();

  let operands = scan.operands.map((i) => args[i]!).filter((a) => a.static);
  let skip = typeof spec.nonPathOperands === "number" ? spec.nonPathOperands : 0;
  if (
    spec.patternOptions &&
    scan.options.some(
      (o) => spec.patternOptions!.includes(o.name) || spec.patternOptions!.some((p) => p.length === 2 && !o.name.startsWith("--") && o.name.includes(p[1]!)),
    )
  )
    skip = 0;
  if (spec.noPatternOptions && scan.options.some((o) => spec.noPatternOptions!.includes(o.name))) skip = 0;
  if (name === "git") skip = 1; // the subcommand
  operands = operands.slice(skip);

  // `-i` may carry a backup suffix (`sed -i.bak`, `perl -pi.orig`).
  const inPlace =
    (spec.inPlaceOptions?.some((o) => hasOption(args, 1, o)) ?? false) ||
    (spec.inPlaceOptions?.includes("-i") === true && args.slice(1).some((a) => a.static && /^-[A-Za-z]*i/.test(a.value)));
  const isRecursive = spec.recursive === true || (Array.isArray(spec.recursive) && spec.recursive.some((o) => hasOption(args, 1, o)));
  if (isRecursive) {
    if (operands.length === 0) recursive.add(".", false);
    for (const operand of operands) recursive.add(operand.value, operand.glob);
  }
  if (name === "uniq") {
    if (operands[0]) reads.add(operands[0].value, operands[0].glob);
    if (operands[1]) writes.add(operands[1].value, operands[1].glob);
    return done();
  }
  const hasTargetDir = scan.options.some((o) => spec.targetDirOptions?.includes(o.name));
  operands.forEach((operand, index) => {
    const last = index === operands.length - 1;
    const written = inPlace || spec.writes === "operands" || (spec.writes === "last-operand" && !hasTargetDir && (last || operands.length === 1));
    (written ? writes : reads).add(operand.value, operand.glob);
    const embedded = splitKeyValue(operand.value);
    if (embedded) reads.add(embedded, operand.glob);
  });
  if (name === "ls" || name === "du" || name === "tree") {
    if (operands.length === 0) reads.add(".", false);
  }
  // An option with an attached path (`-f/home/agent/.ssh/id_rsa`) still names that path.
  for (const option of scan.options) {
    const text = args[option.index]?.value ?? "";
    const slash = text.indexOf("/");
    if (!option.name.startsWith("--") && option.value === undefined && slash > 1) reads.add(text.slice(slash), false);
  }
  return done();
}

const FIND_WRITE_ACTIONS = ["-fprint", "-fprint0", "-fprintf", "-fls"];

function findEffects(args: readonly ShellArg[], reads: PathCollector, writes: PathCollector, recursive: PathCollector): void {
  let i = 1;
  while (i < args.length && args[i]!.static && /^-[HLP]$/.test(args[i]!.value)) i++;
  const starts: ShellArg[] = [];
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (arg.static && (arg.value.startsWith("-") || arg.value === "(" || arg.value === "!")) break;
    starts.push(arg);
  }
  if (starts.length === 0) starts.push(literalArg("."));
  const deletes = args.some((a) => a.static && a.value === "-delete");
  for (const start of starts) {
    if (!start.static) continue;
    recursive.add(start.value, start.glob);
    reads.add(start.value, start.glob);
    if (deletes) writes.add(start.value, start.glob);
  }
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.static) continue;
    if (FIND_WRITE_ACTIONS.includes(arg.value) && args[i + 1]?.static) writes.add(args[i + 1]!.value, args[i + 1]!.glob);
  }
}

function addRedirect(redirect: Redirection, reads: PathCollector, writes: PathCollector): void {
  if (!redirect.static) return;
  const target = redirect.target;
  switch (redirect.op) {
    case ">":
    case ">>":
    case ">|":
    case "&>":
    case "&>>":
      if (!PSEUDO_FILES.test(target)) writes.add(target, redirect.glob);
      return;
    case ">&":
      if (!/^(\d+-?|-)$/.test(target) && !PSEUDO_FILES.test(target)) writes.add(target, redirect.glob);
      return;
    case "<>":
      if (!PSEUDO_FILES.test(target)) {
        reads.add(target, redirect.glob);
        writes.add(target, redirect.glob);
      }
      return;
    case "<":
      if (!PSEUDO_FILES.test(target)) reads.add(target, redirect.glob);
      return;
    default:
      return;
  }
}

/**
 * The first operand after the program's global options: `git -C x status`
 * → "status", `systemctl reboot` → "reboot".
 */
export function subcommandOf(cmd: SimpleCommand): string | null {
  if (cmd.name === null) return null;
  const spec = specFor(cmd.name) ?? {};
  const scan = scanArgs(cmd.args, 1, cmd.name === "git" ? spec : {}, true);
  const first = cmd.args[scan.firstOperand];
  return first && first.static ? first.value : null;
}

/**
 * Environment variables whose value changes what a later command runs, or
 * makes a program write to a path of the caller's choosing
 * (`GIT_TRACE=/workspace/.git/hooks/pre-commit git status`).
 */
export const SENSITIVE_ENV = new Set([
  "PATH",
  "LD_PRELOAD",
  "LD_LIBRARY_PATH",
  "LD_AUDIT",
  "BASH_ENV",
  "ENV",
  "PROMPT_COMMAND",
  "PS4",
  "IFS",
  "SHELLOPTS",
  "BASHOPTS",
  "CDPATH",
  "GLOBIGNORE",
  "BASH_LOADABLES_PATH",
  "HOME",
  "GIT_DIR",
  "GIT_WORK_TREE",
  "GIT_CONFIG",
  "GIT_CONFIG_GLOBAL",
  "GIT_CONFIG_SYSTEM",
  "GIT_CONFIG_PARAMETERS",
  "GIT_CONFIG_COUNT",
  "GIT_EXEC_PATH",
  "GIT_SSH",
  "GIT_SSH_COMMAND",
  "GIT_EDITOR",
  "GIT_PAGER",
  "GIT_ASKPASS",
  "GIT_EXTERNAL_DIFF",
  "EDITOR",
  "VISUAL",
  "PAGER",
  "NODE_OPTIONS",
  "NODE_PATH",
  "PYTHONPATH",
  "PYTHONSTARTUP",
  "PYTHONHOME",
  "PERL5LIB",
  "PERL5OPT",
  "RUBYOPT",
  "RUBYLIB",
  // Programs write where these say: git's index and objects, TLS keys, loader debug output, coverage, histories.
  "GIT_INDEX_FILE",
  "GIT_OBJECT_DIRECTORY",
  "GIT_ALTERNATE_OBJECT_DIRECTORIES",
  "GIT_COMMON_DIR",
  "GIT_NAMESPACE",
  "SSLKEYLOGFILE",
  "NODE_V8_COVERAGE",
  "NODE_REPL_HISTORY",
  "HISTFILE",
  "PYTHONPYCACHEPREFIX",
  "MALLOC_TRACE",
  "GCONV_PATH",
  "GIT_PROXY_COMMAND",
  "GIT_TEMPLATE_DIR",
  "PERLLIB",
  "PYTHONUSERBASE",
  "JAVA_TOOL_OPTIONS",
  "_JAVA_OPTIONS",
  // Issue 12: read-only programs that start a program these name (pagers, preprocessors, browsers) or read options from them.
  "LESSOPEN",
  "LESSCLOSE",
  "LESS",
  "LESSKEYIN",
  "MANPAGER",
  "MANOPT",
  "MANROFFOPT",
  "BROWSER",
  "SYSTEMD_PAGER",
  "RIPGREP_CONFIG_PATH",
  "TAR_OPTIONS",
  "XDG_CONFIG_HOME",
  "ZDOTDIR",
  "PYTHONWARNINGS",
  "PERL5DB",
]);

/**
 * Families of such variables: GIT_TRACE… write to a path; every GIT_* can
 * name a program, a repository or configuration (GIT_CONFIG_KEY_0,
 * GIT_EXTERNAL_DIFF, GIT_SSH_COMMAND); LD_* and DYLD_* steer the loader.
 */
const SENSITIVE_ENV_PREFIXES = ["GIT_", "LD_", "DYLD_"];

export function isSensitiveEnv(name: string): boolean {
  return SENSITIVE_ENV.has(name) || SENSITIVE_ENV_PREFIXES.some((prefix) => name.startsWith(prefix));
}
