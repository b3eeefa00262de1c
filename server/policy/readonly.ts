// Programs the policy lets run without a reviewer because they only read,
// and the options each one accepts, spelled the way that program parses
// them (issue 12). A read-only program is only read-only with options this
// table knows: an unknown option makes the command ask and names the option
// (fail closed), and an option that starts another program, writes a file
// or reaches the network turns the command into what it really does.
//
// Each program's table is data: rows of option spellings, whether they take
// a value, and what they do when they are more than reading. The parser
// follows each program's own rules: GNU getopt_long (clusters `-nr`,
// attached values `-n5`, `--opt=value` or `--opt value`, unique prefixes
// of long options, `--` ends options, options after operands), git's
// parse-options (no abbreviations for the diff and revision options), and
// find's expression words.
import { resolveLexically, isWithin, WORKSPACE_ROOT } from "./paths";
import type { ShellArg, SimpleCommand } from "./shell";

export type OptionEffect = "runs-program" | "writes" | "network" | "changes-directory" | "changes-configuration" | "reads-elsewhere";

export interface OptionRow {
  /** Spellings: "-n", "--lines" (find-style words: "-name"). */
  names: readonly string[];
  /** "required": the next argument or an attached value; "optional": only attached (`-x5`, `--x=5`). */
  value?: "required" | "optional";
  effect?: OptionEffect;
  /** What the option makes the program do, for the reviewer: "runs the preprocessor it names". */
  why?: string;
  /** Decides by the value (git -C inside the workspace is fine). Returns the effect, or null when the value is harmless. */
  judge?: (value: string | undefined, cmd: SimpleCommand) => { effect: OptionEffect; why: string } | null;
}

export type Finding =
  | { kind: "read-only" }
  /** The program or subcommand is not one that only reads (git commit, tar -x). */
  | { kind: "not-read-only"; why: string }
  | { kind: "unknown-option"; option: string; program: string }
  | { kind: "effect"; option: string; effect: OptionEffect; why: string };

export interface ProgramTable {
  options: readonly OptionRow[];
  /** Long options accept any unique prefix (getopt_long); git's parse-options for diff/log does not. */
  abbreviations: boolean;
  /** `head -20`, `tail -5`: a number in place of an option. */
  numericShort?: boolean;
  /** Options stop at the first operand (POSIX, git's subcommand word). */
  stopAtOperand?: boolean;
  /** Every argument is an operand (echo, printf). */
  operandsOnly?: boolean;
  /** Judges the operands once the options are known (sed's script, git branch NAME). */
  operands?: (operands: string[], seen: SeenOption[], cmd: SimpleCommand) => Finding | null;
}

export interface SeenOption {
  row: OptionRow;
  /** As written ("-ccore.pager=x", "--pre"). */
  spelled: string;
  /** Canonical name of the row that matched. */
  name: string;
  value?: string;
}

// ---------------------------------------------------------------------------
// Row builders: flag, value-taking, optional-value, and rows with an effect

function flag(...names: string[]): OptionRow {
  return { names };
}
function val(...names: string[]): OptionRow {
  return { names, value: "required" };
}
function opt(...names: string[]): OptionRow {
  return { names, value: "optional" };
}
function fx(effect: OptionEffect, why: string, value: OptionRow["value"], ...names: string[]): OptionRow {
  return value ? { names, value, effect, why } : { names, effect, why };
}
/** Many flags at once: "-a -b --all". */
function flags(spec: string): OptionRow[] {
  return spec
    .split(/\s+/)
    .filter(Boolean)
    .map((n) => flag(n));
}
/** Many value options at once: each row one spelling. */
function vals(spec: string): OptionRow[] {
  return spec
    .split(/\s+/)
    .filter(Boolean)
    .map((n) => val(n));
}

const HELP = [flag("--help"), flag("--version")];

// ---------------------------------------------------------------------------
// The tables

const GREP_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags(
    "-E --extended-regexp -F --fixed-strings -G --basic-regexp -P --perl-regexp -i --ignore-case --no-ignore-case -v --invert-match -w --word-regexp -x --line-regexp -y -c --count -L --files-without-match -l --files-with-matches -o --only-matching -q --quiet --silent -s --no-messages -b --byte-offset -H --with-filename -h --no-filename -n --line-number -T --initial-tab -Z --null -z --null-data -a --text -I -r --recursive -R --dereference-recursive -U --binary --line-buffered -V",
  ),
  val("-e", "--regexp"),
  fx("reads-elsewhere", "reads its patterns from the file it names", "required", "-f", "--file"),
  val("-m", "--max-count"),
  val("-A", "--after-context"),
  val("-B", "--before-context"),
  val("-C", "--context"),
  val("--label"),
  val("--include"),
  val("--exclude"),
  val("--exclude-dir"),
  fx("reads-elsewhere", "reads exclusion patterns from the file it names", "required", "--exclude-from"),
  val("-d", "--directories"),
  val("-D", "--devices"),
  val("--binary-files"),
  opt("--color", "--colour"),
  ...vals("--group-separator"),
  ...flags("--no-group-separator"),
];

const RG_OPTIONS: OptionRow[] = [
  ...HELP,
  fx("runs-program", "runs the preprocessor program it names on every file searched", "required", "--pre"),
  fx("runs-program", "runs the program it names to find the host name for hyperlinks", "required", "--hostname-bin"),
  fx("runs-program", "starts decompression programs (gzip, xz, bzip2…) found on PATH for compressed files", undefined, "-z", "--search-zip"),
  fx("reads-elsewhere", "reads its patterns from the file it names", "required", "-f", "--file"),
  fx("reads-elsewhere", "reads ignore rules from the file it names", "required", "--ignore-file"),
  ...flags(
    "-i --ignore-case -s --case-sensitive -S --smart-case -v --invert-match -w --word-regexp -x --line-regexp -F --fixed-strings -c --count --count-matches -l --files-with-matches --files-without-match -o --only-matching -q --quiet -n --line-number -N --no-line-number -H --with-filename -I --no-filename --no-heading --heading --hidden --no-hidden -L --follow --no-follow -u --unrestricted -uu -uuu -a --text --no-text --binary --no-binary -U --multiline --no-multiline --multiline-dotall --no-multiline-dotall --files --type-list --no-ignore --no-ignore-vcs --no-ignore-dot --no-ignore-global --no-ignore-parent --no-ignore-exclude --no-ignore-files --no-ignore-messages --ignore-vcs --ignore --no-messages --messages --json --no-json --vimgrep --column --no-column -b --byte-offset --no-byte-offset -p --pretty --trim --no-trim -0 --null --null-data --line-buffered --block-buffered --stats --no-stats --debug --trace --no-unicode --unicode --pcre2 --no-pcre2 --auto-hybrid-regex --no-config --one-file-system --no-one-file-system --crlf --no-crlf --passthru --passthrough --invert-match --glob-case-insensitive --no-glob-case-insensitive --include-zero --no-include-zero --sort-files --no-sort-files --mmap --no-mmap --no-pre --no-search-zip --no-require-git --require-git --ignore-file-case-insensitive --no-ignore-file-case-insensitive -P --pcre2-version --type-list --no-encoding --max-columns-preview --no-max-columns-preview",
  ),
  val("-e", "--regexp"),
  val("-g", "--glob"),
  val("--iglob"),
  val("-t", "--type"),
  val("-T", "--type-not"),
  val("--type-add"),
  val("--type-clear"),
  val("-m", "--max-count"),
  val("-A", "--after-context"),
  val("-B", "--before-context"),
  val("-C", "--context"),
  val("-j", "--threads"),
  val("-M", "--max-columns"),
  val("-r", "--replace"),
  val("-E", "--encoding"),
  val("-d", "--max-depth", "--maxdepth"),
  val("--sort"),
  val("--sortr"),
  val("--color", "--colour"),
  val("--colors"),
  val("--context-separator"),
  val("--field-match-separator"),
  val("--field-context-separator"),
  val("--path-separator"),
  val("--max-filesize"),
  val("--dfa-size-limit"),
  val("--regex-size-limit"),
  val("--engine"),
  val("--pre-glob"),
  val("--hyperlink-format"),
  val("--generate"),
];

const LS_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags(
    "-a --all -A --almost-all --author -b --escape -B --ignore-backups -c -C -d --directory -D --dired -f -F --classify -g --group-directories-first -G --no-group -h --human-readable --si -H --dereference-command-line --dereference-command-line-symlink-to-dir -i --inode -k --kibibytes -l -L --dereference -m -n --numeric-uid-gid -N --literal -o -p -q --hide-control-chars --show-control-chars -Q --quote-name -r --reverse -R --recursive -s --size -S -t -u -U -v -x -X -Z --context -1 --full-time --zero",
  ),
  opt("--color", "--colour"),
  opt("--classify"),
  opt("--hyperlink"),
  opt("--indicator-style"),
  val("-I", "--ignore"),
  val("-T", "--tabsize"),
  val("-w", "--width"),
  val("--block-size"),
  val("--hide"),
  val("--format"),
  val("--sort"),
  val("--time"),
  val("--time-style"),
  val("--quoting-style"),
];

const HEAD_TAIL: OptionRow[] = [
  ...HELP,
  ...flags("-q --quiet --silent -v --verbose -z --zero-terminated -F --retry"),
  val("-n", "--lines"),
  val("-c", "--bytes"),
  opt("-f", "--follow"),
  val("-s", "--sleep-interval"),
  val("--pid"),
  val("--max-unchanged-stats"),
];

const CAT_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags("-A --show-all -b --number-nonblank -e -E --show-ends -n --number -s --squeeze-blank -t -T --show-tabs -u -v --show-nonprinting"),
];

const WC_OPTIONS: OptionRow[] = [...HELP, ...flags("-c --bytes -m --chars -l --lines -L --max-line-length -w --words"), val("--files0-from"), val("--total")];

const SORT_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags(
    "-b --ignore-leading-blanks -d --dictionary-order -f --ignore-case -g --general-numeric-sort -i --ignore-nonprinting -M --month-sort -h --human-numeric-sort -n --numeric-sort -R --random-sort -r --reverse -V --version-sort -c -C --check -m --merge -s --stable -u --unique -z --zero-terminated --debug",
  ),
  opt("--check"),
  val("--sort"),
  val("-k", "--key"),
  val("-t", "--field-separator"),
  val("-S", "--buffer-size"),
  val("-T", "--temporary-directory"),
  val("--parallel"),
  val("--batch-size"),
  val("--random-source"),
  val("--files0-from"),
  fx("runs-program", "runs the compression program it names for temporary files", "required", "--compress-program"),
  fx("writes", "writes its output to the file it names", "required", "-o", "--output"),
];

const UNIQ_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags("-c --count -d --repeated -D -i --ignore-case -u --unique -z --zero-terminated"),
  opt("--all-repeated"),
  opt("--group"),
  val("-f", "--skip-fields"),
  val("-s", "--skip-chars"),
  val("-w", "--check-chars"),
];

const CUT_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags("-n -s --only-delimited --complement -z --zero-terminated"),
  val("-b", "--bytes"),
  val("-c", "--characters"),
  val("-d", "--delimiter"),
  val("-f", "--fields"),
  val("--output-delimiter"),
];

const TR_OPTIONS: OptionRow[] = [...HELP, ...flags("-c -C --complement -d --delete -s --squeeze-repeats -t --truncate-set1")];

const DIFF_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags(
    "-q --brief -s --report-identical-files -c -u -e --ed -n --rcs -y --side-by-side -l --paginate -t --expand-tabs -T --initial-tab -r --recursive -N --new-file --unidirectional-new-file -i --ignore-case --ignore-file-name-case --no-ignore-file-name-case -E --ignore-tab-expansion -Z --ignore-trailing-space -b --ignore-space-change -w --ignore-all-space -B --ignore-blank-lines --strip-trailing-cr -a --text -d --minimal --speed-large-files --suppress-common-lines --left-column --suppress-blank-empty -p --show-c-function --no-dereference --color -P --unidirectional-new-file",
  ),
  opt("--color"),
  opt("--normal"),
  val("-C"),
  val("-U"),
  opt("--context", "--unified"),
  val("-W", "--width"),
  val("--tabsize"),
  val("-F", "--show-function-line"),
  val("-I", "--ignore-matching-lines"),
  val("-x", "--exclude"),
  fx("reads-elsewhere", "reads exclusion patterns from the file it names", "required", "-X", "--exclude-from"),
  val("-S", "--starting-file"),
  val("-L", "--label"),
  val("--from-file"),
  val("--to-file"),
  val("--horizon-lines"),
  val("--line-format"),
  val("--old-line-format"),
  val("--new-line-format"),
  val("--unchanged-line-format"),
  val("--old-group-format"),
  val("--new-group-format"),
  val("--changed-group-format"),
  val("--unchanged-group-format"),
  val("--palette"),
  val("-D", "--ifdef"),
];

const JQ_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags(
    "-n --null-input -R --raw-input -s --slurp -c --compact-output -r --raw-output -j --join-output -a --ascii-output -S --sort-keys -C --color-output -M --monochrome-output --tab -e --exit-status --seq --stream --stream-errors -0 --nul-output --raw-output0 --unbuffered -h -V --build-configuration",
  ),
  val("--indent"),
  { names: ["--arg"], value: "required" },
  { names: ["--argjson"], value: "required" },
  fx("reads-elsewhere", "reads a JSON file into a variable", "required", "--slurpfile", "--rawfile"),
  flag("--args"),
  flag("--jsonargs"),
  fx("reads-elsewhere", "reads its filter from a file", "required", "-f", "--from-file"),
  fx("runs-program", "loads jq modules from the directory it names", "required", "-L"),
];

const NL_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags("-p --no-renumber"),
  val("-b", "--body-numbering"),
  val("-d", "--section-delimiter"),
  val("-f", "--footer-numbering"),
  val("-h", "--header-numbering"),
  val("-i", "--line-increment"),
  val("-l", "--join-blank-lines"),
  val("-n", "--number-format"),
  val("-s", "--number-separator"),
  val("-v", "--starting-line-number"),
  val("-w", "--number-width"),
];

const TAC_OPTIONS: OptionRow[] = [...HELP, ...flags("-b --before -r --regex"), val("-s", "--separator")];

const BASE64_OPTIONS: OptionRow[] = [...HELP, ...flags("-d --decode -i --ignore-garbage"), val("-w", "--wrap")];

const NUMFMT_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags("--debug -z --zero-terminated"),
  val("-d", "--delimiter"),
  opt("--field", "--header", "--grouping"),
  val("--field"),
  val("--format"),
  val("--from"),
  val("--from-unit"),
  val("--invalid"),
  val("--padding"),
  val("--round"),
  val("--suffix"),
  val("--to"),
  val("--to-unit"),
  flag("--grouping"),
  flag("--header"),
];

const COLUMN_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags("-t --table -x --fillrows -n -e -J --json -L --keep-empty-lines -V -h -r --tree -R --right -c"),
  val("-s", "--separator"),
  val("-o", "--output-separator"),
  val("-c", "--output-width"),
  val("-N", "--table-columns"),
  val("-l", "--table-columns-limit"),
  val("-d", "--table-noheadings"),
  val("-E", "--table-noextreme"),
  val("-H", "--table-hide"),
  val("-O", "--table-order"),
  val("-n", "--table-name"),
  val("-W", "--table-wrap"),
  val("-T", "--table-truncate"),
];

const STAT_OPTIONS: OptionRow[] = [...HELP, ...flags("-L --dereference -f --file-system -t --terse"), val("-c", "--format"), val("--printf"), opt("--cached")];

const FILE_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags(
    "-b --brief -E -h --no-dereference -i --mime -k --keep-going -l --list -L --dereference -N --no-pad -n --no-buffer -p --preserve-date -r --raw -s --special-files -S --no-sandbox -z --uncompress -Z --uncompress-noreport -0 --print0 --apple --extension --mime-type --mime-encoding -d --debug",
  ),
  val("-e", "--exclude"),
  val("--exclude-quiet"),
  val("-F", "--separator"),
  fx("reads-elsewhere", "reads the names of files to examine from the file it names", "required", "-f", "--files-from"),
  val("-m", "--magic-file"),
  val("-P", "--parameter"),
  fx("writes", "compiles a magic file and writes the result", undefined, "-C", "--compile"),
];

const DU_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags(
    "-0 --null -a --all --apparent-size -b --bytes -c --total -D --dereference-args -H -h --human-readable --inodes -k -L --dereference -l --count-links -m -P --no-dereference -S --separate-dirs --si -s --summarize -x --one-file-system",
  ),
  val("-B", "--block-size"),
  val("-d", "--max-depth"),
  val("-t", "--threshold"),
  opt("--time"),
  val("--time-style"),
  val("--exclude"),
  val("-X", "--exclude-from"),
  val("--files0-from"),
];

const DF_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags("-a --all -h --human-readable -H --si -i --inodes -k -l --local --no-sync -P --portability --sync --total -T --print-type"),
  val("-B", "--block-size"),
  opt("--output"),
  val("-t", "--type"),
  val("-x", "--exclude-type"),
];

const TREE_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags(
    "-a -d -l -f -x -q -N -Q -p -u -g -s -h --si --du -D -F -v -t -c -U -r --dirsfirst --filesfirst -i -A -S -n -C -X -J -H --noreport --inodes --device --prune --matchdirs --ignore-case --gitignore --info --fromfile --fromtabfile --metafirst -1",
  ),
  val("-L"),
  val("-P"),
  val("-I"),
  val("--filelimit"),
  val("--timefmt"),
  val("--sort"),
  val("--charset"),
  val("--gitfile"),
  val("--hintro"),
  val("--houtro"),
  fx("writes", "writes its output to the file it names", "required", "-o"),
];

const CMP_OPTIONS: OptionRow[] = [...HELP, ...flags("-b --print-bytes -l --verbose -s --quiet --silent"), val("-i", "--ignore-initial"), val("-n", "--bytes")];

const SIMPLE: Record<string, OptionRow[]> = {
  basename: [...HELP, ...flags("-a --multiple -z --zero"), val("-s", "--suffix")],
  dirname: [...HELP, ...flags("-z --zero")],
  realpath: [
    ...HELP,
    ...flags("-e --canonicalize-existing -m --canonicalize-missing -L --logical -P --physical -q --quiet -s --strip --no-symlinks -z --zero"),
    val("--relative-to", "--relative-base"),
  ],
  readlink: [
    ...HELP,
    ...flags("-f --canonicalize -e --canonicalize-existing -m --canonicalize-missing -n --no-newline -q --quiet -s --silent -v --verbose -z --zero"),
  ],
  pwd: [...HELP, ...flags("-L -P")],
  whoami: HELP,
  id: [...HELP, ...flags("-a -Z --context -g --group -G --groups -n --name -r --real -u --user -z --zero")],
  groups: HELP,
  uname: [
    ...HELP,
    ...flags(
      "-a --all -s --kernel-name -n --nodename -r --kernel-release -v --kernel-version -m --machine -p --processor -i --hardware-platform -o --operating-system",
    ),
  ],
  nproc: [...HELP, flag("--all"), val("--ignore")],
  date: [
    ...HELP,
    ...flags("-u --utc --universal -R --rfc-email --debug"),
    val("-d", "--date"),
    opt("-I", "--iso-8601"),
    val("--rfc-3339"),
    val("-r", "--reference"),
  ],
  which: [...HELP, ...flags("-a -s")],
  uptime: [...HELP, ...flags("-p --pretty -s --since")],
  free: [...HELP, ...flags("-b -k -m -g -h --human -w --wide -t --total -l --lohi --kilo --mega --giga --tera --bytes --si")],
  rev: HELP,
  tsort: HELP,
  strings: [
    ...HELP,
    ...flags("-a --all -d --data -f --print-file-name -w --include-all-whitespace"),
    val("-n", "--bytes"),
    val("-t", "--radix"),
    val("-e", "--encoding"),
    val("-s", "--output-separator"),
  ],
  od: [
    ...HELP,
    ...flags("-b -c -d -f -i -l -o -s -x -v --output-duplicates"),
    val("-A", "--address-radix"),
    val("-j", "--skip-bytes"),
    val("-N", "--read-bytes"),
    val("-t", "--format"),
    opt("-w", "--width"),
    opt("--endian"),
  ],
  hexdump: [
    ...HELP,
    ...flags("-b -c -C --canonical -d -o -x -v --no-squeezing"),
    val("-e", "--format"),
    val("-n", "--length"),
    val("-s", "--skip"),
    opt("-L", "--color"),
  ],
  fold: [...HELP, ...flags("-b --bytes -s --spaces"), val("-w", "--width")],
  expand: [...HELP, ...flags("-i --initial"), val("-t", "--tabs")],
  unexpand: [...HELP, ...flags("-a --all --first-only"), val("-t", "--tabs")],
  fmt: [
    ...HELP,
    ...flags("-c --crown-margin -s --split-only -t --tagged-paragraph -u --uniform-spacing"),
    val("-w", "--width"),
    val("-g", "--goal"),
    val("-p", "--prefix"),
  ],
  comm: [...HELP, ...flags("-1 -2 -3 --check-order --nocheck-order --total -z --zero-terminated"), val("--output-delimiter")],
  paste: [...HELP, ...flags("-s --serial -z --zero-terminated"), val("-d", "--delimiters")],
  join: [
    ...HELP,
    ...flags("-i --ignore-case --check-order --nocheck-order --header -z --zero-terminated"),
    val("-a"),
    val("-e"),
    val("-o"),
    val("-t"),
    val("-v"),
    val("-1"),
    val("-2"),
    val("-j"),
  ],
  pr: [
    ...HELP,
    ...flags(
      "-a --across -d --double-space -F -f -J --join-lines -m --merge -r --no-file-warnings -t --omit-header -T --omit-pagination -v --show-nonprinting",
    ),
    val("-h", "--header"),
    val("-l", "--length"),
    val("-o", "--indent"),
    val("-w", "--width"),
    val("-W", "--page-width"),
    opt("-n", "--number-lines"),
    opt("-s", "--separator"),
    opt("-S", "--sep-string"),
    opt("-e", "--expand-tabs"),
    opt("-i", "--output-tabs"),
    opt("-c", "--show-control-chars"),
    val("-N", "--first-line-number"),
    val("--columns"),
    val("--pages"),
  ],
  md5sum: [...HELP, ...flags("-b --binary -c --check -t --text --tag -z --zero --ignore-missing --quiet --status --strict -w --warn")],
  cksum: [
    ...HELP,
    ...flags("-b --binary -c --check -t --text --tag --untagged -z --zero --ignore-missing --quiet --status --strict -w --warn --base64 --raw"),
    val("-a", "--algorithm"),
    val("-l", "--length"),
  ],
  sum: [...HELP, ...flags("-r -s --sysv")],
  seq: [...HELP, ...flags("-w --equal-width"), val("-f", "--format"), val("-s", "--separator")],
  getconf: [...HELP, flag("-a"), val("-v")],
  locale: [...HELP, ...flags("-a --all-locales -m --charmaps -c --category-name -k --keyword-name -v --verbose")],
  who: [
    ...HELP,
    ...flags(
      "-a --all -b --boot -d --dead -H --heading -l --login --lookup -m -p --process -q --count -r --runlevel -s --short -t --time -T -w --mesg --message --writable -u --users",
    ),
  ],
  tty: [...HELP, ...flags("-s --silent --quiet")],
  tput: [...HELP, ...flags("-S -V -x")],
  whereis: [...HELP, ...flags("-b -m -s -u -l -g -f"), val("-B"), val("-M"), val("-S")],
  readelf: [
    ...HELP,
    ...flags(
      "-a --all -h --file-header -l --program-headers --segments -S --section-headers --sections -g --section-groups -t --section-details -e --headers -s --syms --symbols --dyn-syms --lto-syms -n --notes -r --relocs -u --unwind -d --dynamic -V --version-info -A --arch-specific -c --archive-index -D --use-dynamic -I --histogram -W --wide -z --decompress -C --demangle",
    ),
    val("-x", "--hex-dump"),
    val("-p", "--string-dump"),
    val("-R", "--relocated-dump"),
    opt("-w", "--debug-dump"),
  ],
  nm: [
    ...HELP,
    ...flags(
      "-a --debug-syms -A -o --print-file-name -B -C --demangle --no-demangle -D --dynamic -g --extern-only -h -j -l --line-numbers -n -v --numeric-sort -p --no-sort -P --portability -r --reverse-sort -S --print-size -s --print-armap --size-sort --special-syms -u --undefined-only -U --defined-only -V -W --no-weak --with-symbol-versions",
    ),
    val("-f", "--format"),
    val("-t", "--radix"),
    val("--target"),
  ],
  size: [...HELP, ...flags("-A -B -G -d -o -x -t --totals --common")],
  objdump: [
    ...HELP,
    ...flags(
      "-a --archive-headers -f --file-headers -p --private-headers -h --section-headers --headers -x --all-headers -D --disassemble-all -S --source -s --full-contents -g --debugging -e --debugging-tags -G --stabs -t --syms -T --dynamic-syms -r --reloc -R --dynamic-reloc -l --line-numbers -C --demangle -w --wide -z --disassemble-zeroes --no-show-raw-insn --show-raw-insn --no-addresses -F --file-offsets",
    ),
    opt("-d", "--disassemble"),
    val("-j", "--section"),
    val("-M", "--disassembler-options"),
    val("--start-address"),
    val("--stop-address"),
    val("-b", "--target"),
    val("-m", "--architecture"),
  ],
  // BSD-style words (`ps aux`) are operands; none of ps's options runs or writes anything.
  ps: [
    ...HELP,
    ...flags("-A -e -a -d -N --deselect -f -F -l -j -y -H --forest -w -x -T -L -m -M -Z --headers --no-headers -c -V"),
    ...vals(
      "-C -G --Group -g --group -p --pid --ppid -q --quick-pid -s --sid -t --tty -u --user -U --User -o -O --format --sort --cols --columns --width --rows --lines",
    ),
  ],
  xxd: [
    ...HELP,
    ...flags("-a -autoskip -b -bits -C -capitalize -E -EBCDIC -e -i -include -p -ps -postscript -plain -u -d -v -version -h -help"),
    val("-c", "-cols"),
    val("-g", "-groupsize"),
    val("-l", "-len"),
    val("-o", "-offset"),
    val("-s", "-seek"),
    val("-n", "-name"),
    opt("-R"),
    fx("writes", "turns a dump back into binary and can write the file named as its second operand", undefined, "-r", "-revert"),
  ],
};
for (const sum of ["sha1sum", "sha224sum", "sha256sum", "sha384sum", "sha512sum", "b2sum"]) SIMPLE[sum] = SIMPLE.md5sum!;

const MAN_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags(
    "-a --all -f --whatis -k --apropos -K --global-apropos -w --where --path --location -W --where-cat --location-cat -l --local-file -u --update -i --ignore-case -I --match-case --regex --wildcard --names-only -7 --ascii -Z --ditroff -t --troff --no-subpages --no-hyphenation --nh --no-justification --nj -c --catman -d --debug -D --default",
  ),
  val("-s", "--sections"),
  val("-S"),
  val("-M", "--manpath"),
  val("-L", "--locale"),
  val("-m", "--systems"),
  val("-e", "--extension"),
  val("-E", "--encoding"),
  val("-R", "--recode"),
  val("-T", "--troff-device"),
  opt("-T", "--troff-device"),
  val("-C", "--config-file"),
  fx("runs-program", "runs the pager program it names", "required", "-P", "--pager"),
  fx("runs-program", "runs a web browser (the program in $BROWSER or the one it names)", "optional", "-H", "--html"),
  fx("runs-program", "runs a graphical previewer (gxditview)", "optional", "-X", "--gxditview"),
  fx("runs-program", "runs the preprocessors it names", "required", "-p", "--preprocessor"),
  val("-r", "--prompt"),
];

const TAR_LIST_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags(
    "-t --list -v --verbose -z --gzip --gunzip --ungzip -j --bzip2 -J --xz --lzip --lzma --lzop --zstd -a --auto-compress -Z --compress --uncompress --full-time --numeric-owner --utc -i --ignore-zeros --wildcards --no-wildcards --anchored --no-anchored --ignore-case --no-ignore-case --show-transformed-names --quoting-style --null --no-null -B --read-full-records -R --block-number --totals",
  ),
  {
    names: ["-f", "--file"],
    value: "required",
    // GNU tar opens HOST:FILE over rsh, a remote shell (unless --force-local).
    judge: (v) => (v !== undefined && /^[^/]*:/.test(v) ? { effect: "network", why: "opens a remote archive through a remote shell (HOST:FILE)" } : null),
  },
  val("-b", "--blocking-factor"),
  val("--exclude"),
  val("-X", "--exclude-from"),
  val("-T", "--files-from"),
  val("-H", "--format"),
  val("--occurrence"),
  val("--transform", "--xform"),
  fx("runs-program", "runs the program it names on every file extracted", "required", "--to-command"),
  fx("runs-program", "runs the compression program it names", "required", "-I", "--use-compress-program"),
  fx("runs-program", "runs the action it names at checkpoints (exec=COMMAND runs a command)", "required", "--checkpoint-action"),
  fx("runs-program", "runs the script it names when a volume ends", "required", "-F", "--info-script", "--new-volume-script"),
  fx("runs-program", "reaches a remote tape through the shell it names", "required", "--rsh-command", "--rmt-command"),
  fx("writes", "extracts files", undefined, "-x", "--extract", "--get"),
  fx("writes", "writes an archive", undefined, "-c", "--create", "-r", "--append", "-u", "--update", "-A", "--catenate", "--concatenate", "--delete"),
  fx("writes", "writes files into the directory it names", "required", "-C", "--directory"),
  opt("--checkpoint"),
];

// find: expression words. Tests and options that only read; actions that print to stdout.
export const FIND_WORDS: OptionRow[] = [
  ...HELP,
  ...flags(
    "-H -L -P -O0 -O1 -O2 -O3 -daystart -depth -d -follow -ignore_readdir_race -noignore_readdir_race -mount -xdev -noleaf -nowarn -warn -empty -executable -false -true -readable -writable -nogroup -nouser -print -print0 -ls -prune -quit ! -not -a -and -o -or ( ) ,",
  ),
  ...vals(
    "-maxdepth -mindepth -amin -anewer -atime -cmin -cnewer -ctime -fstype -gid -group -ilname -iname -inum -ipath -iregex -iwholename -links -lname -mmin -mtime -name -newer -path -perm -regex -regextype -samefile -size -type -uid -used -user -wholename -xtype -context -printf -newerXY -newermt -newerct -newerat -newerBt -files0-from -D",
  ),
  fx("runs-program", "runs a command for every file it finds", "required", "-exec", "-execdir", "-ok", "-okdir"),
  fx("writes", "deletes every file it finds", undefined, "-delete"),
  fx("writes", "writes its output to the file it names", "required", "-fprint", "-fprint0", "-fls"),
  { names: ["-fprintf"], value: "required", effect: "writes", why: "writes its output to the file it names" },
];

// ---------------------------------------------------------------------------
// git: global options, then a table per read-only subcommand

const GIT_EXEC_CONFIG =
  /^(core\.(hookspath|fsmonitor|sshcommand|pager|editor|askpass|gitproxy|alternaterefscommand|worktree)|pager\..+|alias\..+|.+\.(command|cmd|textconv|process|clean|smudge|helper|driver|uploadpack|receivepack|proxy)|diff\.external|sequence\.editor|gpg(\..+)?\.program|credential\..*|include\.path|includeif\..+|uploadpack\.packobjectshook|protocol\..+\.allow|(web|help)\.browser|interactive\.difffilter|sendemail\..+|url\..+)$/i;

function gitConfigJudge(value: string | undefined): { effect: OptionEffect; why: string } {
  const key = (value ?? "").split("=")[0]!;
  if (GIT_EXEC_CONFIG.test(key)) return { effect: "runs-program", why: `sets ${key}, which makes git run a program of the agent's choosing` };
  return { effect: "changes-configuration", why: `overrides git's configuration (${key || "a key"})` };
}

function gitChdirJudge(value: string | undefined, cmd: SimpleCommand): { effect: OptionEffect; why: string } | null {
  if (value === undefined || value === "") return null;
  const inside = cmd.cwds.every((cwd) => isWithin(resolveLexically(value, cwd), WORKSPACE_ROOT));
  return inside ? null : { effect: "changes-directory", why: `runs git in ${value}, outside the workspace` };
}

export const GIT_GLOBAL: OptionRow[] = [
  ...HELP,
  ...flags(
    "-v --no-pager -P --bare --no-replace-objects --no-lazy-fetch --no-optional-locks --no-advice --literal-pathspecs --glob-pathspecs --noglob-pathspecs --icase-pathspecs --html-path --man-path --info-path",
  ),
  { names: ["-C"], value: "required", judge: gitChdirJudge },
  { names: ["-c"], value: "required", judge: (v) => gitConfigJudge(v) },
  { names: ["--config-env"], value: "required", judge: (v) => gitConfigJudge(v) },
  fx("runs-program", "sends output through a pager program (core.pager, $GIT_PAGER, $PAGER or less)", undefined, "-p", "--paginate"),
  {
    names: ["--exec-path"],
    value: "optional",
    why: "runs git's helper programs from the directory it names",
    // Without a value it only prints where the helpers are.
    judge: (v) => (v === undefined ? null : { effect: "runs-program", why: "runs git's helper programs from the directory it names" }),
  },
  fx("changes-configuration", "points git at another repository", "required", "--git-dir"),
  fx("changes-configuration", "points git at another work tree", "required", "--work-tree"),
  fx("changes-configuration", "switches git's ref namespace", "required", "--namespace"),
  val("--list-cmds"),
  val("--attr-source"),
];

const GIT_DIFF_OPTIONS: OptionRow[] = [
  ...flags(
    "-p -u --patch -s --no-patch --raw --patch-with-raw --patch-with-stat --indent-heuristic --no-indent-heuristic --minimal --patience --histogram --compact-summary --numstat --shortstat --cumulative --dirstat-by-file --summary -z --name-only --name-status --no-color --no-color-moved --no-color-moved-ws --no-renames --rename-empty --no-rename-empty --check --full-index --binary --find-copies-harder -D --irreversible-delete --pickaxe-all --pickaxe-regex -R --no-relative -a --text --ignore-cr-at-eol --ignore-space-at-eol -b --ignore-space-change -w --ignore-all-space --ignore-blank-lines -W --function-context --exit-code --quiet --no-ext-diff --no-textconv --no-prefix --default-prefix --ita-invisible-in-index --ita-visible-in-index --cached --staged --merge-base --no-index -0 -1 -2 -3 --base --ours --theirs -c --cc --combined-all-paths -m --dd --remerge-diff --no-diff-merges --first-parent -r -t --root --no-commit-id --always",
  ),
  opt("-U", "--unified"),
  opt("--stat", "--dirstat", "--submodule", "--color", "--color-moved", "--word-diff", "--color-words", "--relative", "--abbrev", "--ignore-submodules"),
  opt("-X", "-B", "--break-rewrites", "-M", "--find-renames", "-C", "--find-copies"),
  val("-S", "-G", "-l"),
  val("--stat-width", "--stat-name-width", "--stat-count", "--stat-graph-width"),
  val("--output-indicator-new", "--output-indicator-old", "--output-indicator-context"),
  val(
    "--anchored",
    "--diff-algorithm",
    "--color-moved-ws",
    "--word-diff-regex",
    "--ws-error-highlight",
    "--diff-filter",
    "--find-object",
    "--skip-to",
    "--rotate-to",
  ),
  val("-I", "--ignore-matching-lines", "--inter-hunk-context", "--src-prefix", "--dst-prefix", "--line-prefix", "--diff-merges"),
  fx("reads-elsewhere", "reads the order of files from the file it names", "required", "-O"),
  fx("writes", "writes its output to the file it names", "required", "--output"),
  fx("runs-program", "runs external diff programs (diff.external, $GIT_EXTERNAL_DIFF, diff.<driver>.command)", undefined, "--ext-diff"),
  fx("runs-program", "runs textconv filter programs from git's configuration", undefined, "--textconv"),
];

const GIT_LOG_OPTIONS: OptionRow[] = [
  ...GIT_DIFF_OPTIONS,
  ...flags(
    "--follow --no-decorate --decorate-refs --source --no-use-mailmap --use-mailmap --mailmap --no-mailmap --full-diff --log-size --oneline --all --branches --tags --remotes --reflog --walk-reflogs -g --merges --no-merges --no-min-parents --no-max-parents --not --boundary --left-right --left-only --right-only --cherry-mark --cherry-pick --cherry --graph --no-graph --reverse --topo-order --date-order --author-date-order --abbrev-commit --no-abbrev-commit --no-abbrev --full-history --dense --sparse --simplify-merges --ancestry-path --simplify-by-decoration --show-pulls --parents --children --show-signature --show-linear-break --relative-date --no-walk --do-walk --regexp-ignore-case -i --basic-regexp -E --extended-regexp -F --fixed-strings -P --perl-regexp --invert-grep --all-match --remove-empty --stdin --ignore-missing --bisect --count --no-notes --show-notes --standard-notes --no-standard-notes --expand-tabs --no-expand-tabs --alternate-refs --exclude-first-parent-only --single-worktree --indexed-objects --objects --in-commit-order --unpacked --show-linear-break --full-name -L",
  ),
  opt(
    "--decorate",
    "--pretty",
    "--format",
    "--date",
    "--notes",
    "--show-notes",
    "--no-walk",
    "--ancestry-path",
    "--expand-tabs",
    "--branches",
    "--tags",
    "--remotes",
    "--glob",
    "--show-linear-break",
  ),
  val(
    "-n",
    "--max-count",
    "--skip",
    "--since",
    "--after",
    "--since-as-filter",
    "--until",
    "--before",
    "--author",
    "--committer",
    "--grep-reflog",
    "--grep",
    "--min-parents",
    "--max-parents",
    "--exclude",
    "--decorate-refs",
    "--decorate-refs-exclude",
    "--encoding",
  ),
  val("-L"),
];

const GIT_BLAME_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags(
    "-b --root --show-stats -l -t -p --porcelain --line-porcelain --incremental -f --show-name -n --show-number -s -e --show-email -w -c --score-debug --progress --no-progress --minimal --no-abbrev",
  ),
  val("-L", "-S", "--contents", "--reverse", "--first-parent", "--since", "--ignore-rev", "--ignore-revs-file"),
  opt("-M", "-C", "--abbrev", "--color-lines", "--color-by-age"),
  fx("runs-program", "runs textconv filter programs from git's configuration", undefined, "--textconv"),
  flag("--no-textconv"),
];

const GIT_BRANCH_LIST: OptionRow[] = [
  ...HELP,
  ...flags("-a --all -r --remotes -l --list -v -vv --verbose -q --quiet --no-color --show-current -i --ignore-case --omit-empty --no-column --no-abbrev"),
  opt("--color", "--column", "--abbrev"),
  val("--sort", "--points-at", "--format"),
  val("--contains", "--no-contains", "--merged", "--no-merged"),
];

/** git branch/tag with operands (and no listing option) creates, deletes or moves a ref. */
function refListing(kind: string, listFlags: readonly string[]) {
  return (operands: string[], seen: SeenOption[]): Finding | null => {
    if (operands.length === 0) return null;
    if (seen.some((s) => listFlags.includes(s.name))) return null;
    return { kind: "not-read-only", why: `creates a ${kind}` };
  };
}

const GIT_TAG_LIST: OptionRow[] = [
  ...HELP,
  ...flags("-l --list -i --ignore-case --omit-empty --no-column"),
  opt("-n", "--column", "--color"),
  val("--sort", "--points-at", "--format"),
  val("--contains", "--no-contains", "--merged", "--no-merged"),
];

const GIT_STATUS_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags("-s --short -b --branch --show-stash --long -v --verbose -z --no-renames --no-ahead-behind --ahead-behind --renames"),
  opt("--porcelain", "-u", "--untracked-files", "--ignore-submodules", "--ignored", "--column", "--no-column", "--find-renames", "-M"),
];

const GIT_SHOW_REF: OptionRow[] = [
  ...HELP,
  ...flags("--head --heads --branches --tags -d --dereference -q --quiet --verify --exists"),
  opt("-s", "--hash", "--abbrev", "--exclude-existing"),
];

const GIT_REV_PARSE: OptionRow[] = [
  ...HELP,
  ...flags(
    "--abbrev-ref --symbolic --symbolic-full-name --show-toplevel --show-cdup --show-prefix --git-dir --git-common-dir --absolute-git-dir --is-inside-git-dir --is-inside-work-tree --is-bare-repository --is-shallow-repository --show-superproject-working-tree --shared-index-path --verify -q --quiet --sq --sq-quote --not --all --branches --tags --remotes --local-env-vars --revs-only --no-revs --flags --no-flags --default --prefix --keep-dashdash --stop-at-non-option --parseopt --show-object-format --show-ref-format",
  ),
  opt(
    "--short",
    "--abbrev-ref",
    "--disambiguate",
    "--branches",
    "--tags",
    "--remotes",
    "--glob",
    "--exclude",
    "--since",
    "--after",
    "--until",
    "--before",
    "--resolve-git-dir",
    "--git-path",
    "--path-format",
    "--show-object-format",
  ),
];

const GIT_LS_FILES: OptionRow[] = [
  ...HELP,
  ...flags(
    "-c --cached -d --deleted -m --modified -o --others -i --ignored -s --stage -k --killed -u --unmerged -z -t -v -f --directory --no-empty-directory --eol --deduplicate --full-name --recurse-submodules --error-unmatch --exclude-standard --sparse --resolve-undo --debug",
  ),
  opt("--abbrev"),
  val("-x", "--exclude", "--exclude-per-directory", "--with-tree", "--format"),
  fx("reads-elsewhere", "reads exclusion patterns from the file it names", "required", "-X", "--exclude-from"),
];

const GIT_LS_TREE: OptionRow[] = [
  ...HELP,
  ...flags("-d -r -t -l --long -z --name-only --name-status --object-only --full-name --full-tree"),
  opt("--abbrev"),
  val("--format"),
];

const GIT_CAT_FILE: OptionRow[] = [
  ...HELP,
  ...flags("-t -s -e -p --allow-unknown-type --follow-symlinks --mailmap --no-mailmap --use-mailmap --no-use-mailmap --buffer -Z"),
  opt("--batch", "--batch-check", "--batch-command", "--batch-all-objects", "--unordered"),
  fx("runs-program", "runs textconv filter programs from git's configuration", undefined, "--textconv"),
  fx("runs-program", "runs clean/smudge filter programs from git's configuration", undefined, "--filters"),
  val("--path"),
];

const GIT_DESCRIBE: OptionRow[] = [
  ...HELP,
  ...flags("--all --tags --contains --long --always --exact-match --first-parent --debug"),
  opt("--abbrev", "--dirty", "--broken"),
  val("--candidates", "--match", "--exclude"),
];

const GIT_REMOTE_LIST: OptionRow[] = [...HELP, ...flags("-v --verbose")];

/** `git remote`, `git remote -v`, `git remote get-url NAME`: listing. `show` contacts the remote unless -n. */
function remoteOperands(operands: string[]): Finding | null {
  if (operands.length === 0) return null;
  const verb = operands[0];
  if (verb === "get-url") return null;
  return { kind: "not-read-only", why: verb === "show" ? "contacts the remote" : `changes remotes (${verb})` };
}

const GIT_SHORTLOG: OptionRow[] = [...GIT_LOG_OPTIONS, ...flags("-s --summary -n --numbered -e --email"), opt("-c", "--committer", "-w"), val("--group")];

const GIT_FOR_EACH_REF: OptionRow[] = [
  ...HELP,
  ...flags("-s --shell -p --perl --python --tcl --ignore-case --omit-empty --stdin"),
  val("--count", "--sort", "--format", "--points-at", "--exclude", "--include-root-refs"),
  val("--contains", "--no-contains", "--merged", "--no-merged"),
];

const GIT_GREP: OptionRow[] = [
  ...HELP,
  ...flags(
    "--cached --untracked --no-index --no-exclude-standard --exclude-standard --recurse-submodules -a --text -i --ignore-case -I -w --word-regexp -v --invert-match -h -H --full-name -E --extended-regexp -G --basic-regexp -P --perl-regexp -F --fixed-strings -n --line-number --column -l --files-with-matches --name-only -L --files-without-match -z --null -o --only-matching -c --count --no-color --break --heading -p --show-function -W --function-context --and --or --not --all-match -q --quiet --no-textconv",
  ),
  opt("--color", "--threads"),
  val("--max-depth", "-m", "--max-count", "-e", "-A", "--after-context", "-B", "--before-context", "-C", "--context"),
  fx("reads-elsewhere", "reads its patterns from the file it names", "required", "-f"),
  fx("runs-program", "opens the matching files in the pager or editor it names", "optional", "-O", "--open-files-in-pager"),
  fx("runs-program", "runs textconv filter programs from git's configuration", undefined, "--textconv"),
];

const GIT_MERGE_BASE: OptionRow[] = [...HELP, ...flags("-a --all --octopus --independent --is-ancestor --fork-point")];
const GIT_REV_LIST: OptionRow[] = [
  ...GIT_LOG_OPTIONS,
  ...flags("--quiet --disk-usage --header --timestamp --objects-edge --no-object-names --object-names --left-right"),
];
const GIT_REFLOG: OptionRow[] = GIT_LOG_OPTIONS;
const GIT_STASH_LIST: OptionRow[] = GIT_LOG_OPTIONS;
const GIT_WORKTREE: OptionRow[] = [...HELP, ...flags("-v --verbose --porcelain -z"), val("--expire")];
const GIT_CONFIG_READ: OptionRow[] = [
  ...HELP,
  ...flags(
    "--get --get-all --get-regexp --get-urlmatch -l --list --show-origin --show-scope --name-only --null -z --global --system --local --worktree --includes --no-includes --bool --int --bool-or-int --path --expiry-date -e --edit --add --unset --unset-all --replace-all --remove-section --rename-section --get-color --get-colorbool --all",
  ),
  val("--type", "--default", "--blob", "--value", "--comment"),
  fx("reads-elsewhere", "reads the configuration file it names", "required", "-f", "--file"),
];

/** `git config` reads only with a read option or the get/list verbs; writes are judged by git-config-write. */
function configOperands(operands: string[], seen: SeenOption[]): Finding | null {
  const writeFlags = ["--add", "--unset", "--unset-all", "--replace-all", "--remove-section", "--rename-section", "-e", "--edit"];
  if (seen.some((s) => writeFlags.includes(s.name))) return { kind: "not-read-only", why: "changes git's configuration" };
  const readFlags = ["--get", "--get-all", "--get-regexp", "--get-urlmatch", "-l", "--list", "--get-color", "--get-colorbool"];
  if (seen.some((s) => readFlags.includes(s.name))) return null;
  if (operands[0] === "get" || operands[0] === "list") return null;
  if (operands.length === 1 && !["set", "unset", "edit", "rename-section", "remove-section"].includes(operands[0]!)) return null;
  return { kind: "not-read-only", why: "changes git's configuration" };
}

/** `git stash list|show`, `git worktree list`, `git reflog [show]`: only these verbs read. */
function onlyVerbs(verbs: readonly string[], what: string, defaultVerb: boolean) {
  return (operands: string[]): Finding | null => {
    if (operands.length === 0) return defaultVerb ? null : { kind: "not-read-only", why: what };
    return verbs.includes(operands[0]!) ? null : { kind: "not-read-only", why: what };
  };
}

export const GIT_SUBCOMMANDS: Readonly<Record<string, ProgramTable>> = {
  status: { options: GIT_STATUS_OPTIONS, abbreviations: true },
  log: { options: [...HELP, ...GIT_LOG_OPTIONS], abbreviations: false, numericShort: true },
  whatchanged: { options: [...HELP, ...GIT_LOG_OPTIONS], abbreviations: false, numericShort: true },
  show: { options: [...HELP, ...GIT_LOG_OPTIONS], abbreviations: false, numericShort: true },
  diff: { options: [...HELP, ...GIT_DIFF_OPTIONS], abbreviations: false },
  "diff-tree": { options: [...HELP, ...GIT_LOG_OPTIONS], abbreviations: false },
  "diff-index": { options: [...HELP, ...GIT_DIFF_OPTIONS], abbreviations: false },
  "diff-files": { options: [...HELP, ...GIT_DIFF_OPTIONS], abbreviations: false },
  blame: { options: GIT_BLAME_OPTIONS, abbreviations: true },
  annotate: { options: GIT_BLAME_OPTIONS, abbreviations: true },
  branch: { options: GIT_BRANCH_LIST, abbreviations: true, operands: refListing("branch", ["-l", "--list"]) },
  tag: { options: GIT_TAG_LIST, abbreviations: true, operands: refListing("tag", ["-l", "--list"]) },
  remote: { options: GIT_REMOTE_LIST, abbreviations: true, stopAtOperand: true, operands: remoteOperands },
  "rev-parse": { options: GIT_REV_PARSE, abbreviations: false },
  "ls-files": { options: GIT_LS_FILES, abbreviations: true },
  "ls-tree": { options: GIT_LS_TREE, abbreviations: true },
  "cat-file": { options: GIT_CAT_FILE, abbreviations: true },
  describe: { options: GIT_DESCRIBE, abbreviations: true },
  shortlog: { options: [...HELP, ...GIT_SHORTLOG], abbreviations: false, numericShort: true },
  "show-ref": { options: GIT_SHOW_REF, abbreviations: true },
  "merge-base": { options: GIT_MERGE_BASE, abbreviations: true },
  "rev-list": { options: [...HELP, ...GIT_REV_LIST], abbreviations: false, numericShort: true },
  "for-each-ref": { options: GIT_FOR_EACH_REF, abbreviations: true },
  "name-rev": {
    options: [...HELP, ...flags("--tags --all --annotate-stdin --name-only --no-undefined --always"), val("--refs", "--exclude")],
    abbreviations: true,
  },
  "count-objects": { options: [...HELP, ...flags("-v --verbose -H --human-readable")], abbreviations: true },
  grep: { options: GIT_GREP, abbreviations: true },
  reflog: { options: [...HELP, ...GIT_REFLOG], abbreviations: false, numericShort: true, operands: onlyVerbs(["show", "HEAD"], "changes the reflog", true) },
  stash: {
    options: [...HELP, ...GIT_STASH_LIST],
    abbreviations: false,
    stopAtOperand: true,
    operands: onlyVerbs(["list", "show"], "changes the stash", false),
  },
  worktree: { options: GIT_WORKTREE, abbreviations: true, stopAtOperand: true, operands: onlyVerbs(["list"], "changes work trees", false) },
  config: { options: GIT_CONFIG_READ, abbreviations: true, operands: configOperands },
  version: { options: [...HELP, flag("--build-options")], abbreviations: true },
  "check-ignore": { options: [...HELP, ...flags("-q --quiet -v --verbose --stdin -z -n --non-matching --no-index")], abbreviations: true },
  "check-attr": { options: [...HELP, ...flags("-a --all --cached --stdin -z")], abbreviations: true },
  var: { options: [...HELP, flag("-l")], abbreviations: true },
};

// ---------------------------------------------------------------------------
// sed: the script decides whether sed only prints

/** Finds what a sed script does beyond printing: w/W write, e runs, r/R read other files. Null when it only prints; "unparsed" when the script is not understood. */
export function sedScriptEffect(script: string): { effect: OptionEffect; why: string } | "unparsed" | null {
  let i = 0;
  const n = script.length;
  const skipSpace = () => {
    while (i < n && /[ \t]/.test(script[i]!)) i++;
  };
  const toEol = () => {
    const start = i;
    while (i < n && script[i] !== "\n") i++;
    return script.slice(start, i);
  };
  // A delimited part (regex or replacement): returns false when unterminated.
  const delimited = (delim: string): boolean => {
    while (i < n) {
      const c = script[i]!;
      if (c === "\\") {
        i += 2;
        continue;
      }
      if (c === "\n" && delim !== "\n") return false;
      i++;
      if (c === delim) return true;
    }
    return false;
  };
  const address = (): boolean => {
    const c = script[i];
    if (c === undefined) return true;
    if (/[0-9]/.test(c)) {
      while (i < n && /[0-9~]/.test(script[i]!)) i++;
      return true;
    }
    if (c === "$") {
      i++;
      return true;
    }
    if (c === "/" || c === "\\") {
      let delim = "/";
      if (c === "\\") {
        delim = script[i + 1] ?? "";
        i += 2;
      } else i++;
      if (!delimited(delim)) return false;
      while (i < n && /[IM]/.test(script[i]!)) i++;
      return true;
    }
    return true;
  };
  while (i < n) {
    while (i < n && /[\s;]/.test(script[i]!)) i++;
    if (i >= n) break;
    if (!address()) return "unparsed";
    skipSpace();
    if (script[i] === ",") {
      i++;
      skipSpace();
      if (script[i] === "+" || script[i] === "~") i++;
      if (!address()) return "unparsed";
      skipSpace();
    }
    while (script[i] === "!" || script[i] === " ") i++;
    const cmd = script[i];
    if (cmd === undefined) return "unparsed";
    i++;
    switch (cmd) {
      case "{":
      case "}":
      case "=":
      case "d":
      case "D":
      case "g":
      case "G":
      case "h":
      case "H":
      case "n":
      case "N":
      case "p":
      case "P":
      case "x":
      case "z":
      case "F":
        break;
      case "#":
        toEol();
        break;
      case "l":
      case "L":
      case "q":
      case "Q":
        skipSpace();
        while (i < n && /[0-9]/.test(script[i]!)) i++;
        break;
      // Labels end at a newline or a semicolon (GNU); ending them early only makes the policy stricter.
      case ":":
      case "b":
      case "t":
      case "T":
      case "v":
        while (i < n && script[i] !== ";" && script[i] !== "\n" && script[i] !== "}") i++;
        break;
      case "a":
      case "i":
      case "c":
        // Text to the end of the line; a backslash-newline continues it.
        while (i < n) {
          if (script[i] === "\\" && i + 1 < n) {
            i += 2;
            continue;
          }
          if (script[i] === "\n") break;
          i++;
        }
        break;
      case "r":
      case "R":
        return { effect: "reads-elsewhere", why: `reads the file named in its script (${cmd} ${toEol().trim()})` };
      case "w":
      case "W":
        return { effect: "writes", why: `writes the file named in its script (${cmd} ${toEol().trim()})` };
      case "e":
        return { effect: "runs-program", why: "runs a shell command from its script (the e command)" };
      case "y": {
        const delim = script[i];
        if (delim === undefined) return "unparsed";
        i++;
        if (!delimited(delim) || !delimited(delim)) return "unparsed";
        break;
      }
      case "s": {
        const delim = script[i];
        if (delim === undefined || delim === "\n" || delim === "\\") return "unparsed";
        i++;
        if (!delimited(delim) || !delimited(delim)) return "unparsed";
        while (i < n && /[gpiImM0-9ew]/.test(script[i]!)) {
          const f = script[i]!;
          i++;
          if (f === "e") return { effect: "runs-program", why: "runs the pattern space as a shell command (the s///e flag)" };
          if (f === "w") return { effect: "writes", why: `writes the file named in its script (s///w ${toEol().trim()})` };
        }
        break;
      }
      default:
        return "unparsed";
    }
  }
  return null;
}

const SED_OPTIONS: OptionRow[] = [
  ...HELP,
  ...flags("-n --quiet --silent -E -r --regexp-extended -s --separate -u --unbuffered -z --null-data --posix --debug --sandbox -b --binary --follow-symlinks"),
  val("-e", "--expression"),
  fx("reads-elsewhere", "reads its script from a file the policy cannot see", "required", "-f", "--file"),
  val("-l", "--line-length"),
  fx("writes", "edits the files it names in place", "optional", "-i", "--in-place"),
];

function sedOperands(operands: string[], seen: SeenOption[]): Finding | null {
  const scripts = seen.filter((s) => s.name === "-e").map((s) => s.value ?? "");
  if (scripts.length === 0) {
    if (operands.length === 0) return null;
    scripts.push(operands[0]!);
  }
  const effect = sedScriptEffect(scripts.join("\n"));
  if (effect === null) return null;
  if (effect === "unparsed") return { kind: "not-read-only", why: "has a sed script the policy cannot read" };
  return { kind: "effect", option: "script", ...effect };
}

/** `hostname NAME` sets the host name; `xxd IN OUT` writes OUT. */
function atMostOperands(max: number, why: string) {
  return (operands: string[]): Finding | null => (operands.length > max ? { kind: "not-read-only", why } : null);
}

// ---------------------------------------------------------------------------

const gnu = (options: OptionRow[], extra: Partial<ProgramTable> = {}): ProgramTable => ({ options, abbreviations: true, ...extra });

/** Programs that take no options worth parsing: every argument is text to print or a test. */
const OPERANDS_ONLY: ProgramTable = { options: [], abbreviations: false, operandsOnly: true };

export const READ_ONLY_PROGRAMS: Readonly<Record<string, ProgramTable>> = {
  echo: OPERANDS_ONLY,
  printf: OPERANDS_ONLY,
  true: OPERANDS_ONLY,
  false: OPERANDS_ONLY,
  ":": OPERANDS_ONLY,
  test: OPERANDS_ONLY,
  "[": OPERANDS_ONLY,
  "[[": OPERANDS_ONLY,
  cd: OPERANDS_ONLY,
  pushd: OPERANDS_ONLY,
  popd: OPERANDS_ONLY,
  type: OPERANDS_ONLY,
  expr: OPERANDS_ONLY,
  sleep: OPERANDS_ONLY,
  cal: OPERANDS_ONLY,
  ls: gnu(LS_OPTIONS),
  cat: gnu(CAT_OPTIONS),
  head: gnu(HEAD_TAIL, { numericShort: true }),
  tail: gnu(HEAD_TAIL, { numericShort: true }),
  wc: gnu(WC_OPTIONS),
  sort: gnu(SORT_OPTIONS),
  uniq: gnu(UNIQ_OPTIONS, { operands: atMostOperands(1, "writes its output to the file named as its second operand") }),
  cut: gnu(CUT_OPTIONS),
  tr: gnu(TR_OPTIONS),
  diff: gnu(DIFF_OPTIONS),
  cmp: gnu(CMP_OPTIONS),
  grep: gnu(GREP_OPTIONS),
  egrep: gnu(GREP_OPTIONS),
  fgrep: gnu(GREP_OPTIONS),
  // ripgrep's own parser takes no abbreviations.
  rg: { options: RG_OPTIONS, abbreviations: false },
  // jq's `env` and `$ENV` print the environment, where granted secrets live.
  jq: gnu(JQ_OPTIONS, {
    operands: (operands) => {
      const filter = operands[0] ?? "";
      return /(^|[^\w$.])(\$ENV|env)\b/.test(filter) ? { kind: "not-read-only", why: "prints the environment, where granted secrets live" } : null;
    },
  }),
  nl: gnu(NL_OPTIONS),
  tac: gnu(TAC_OPTIONS),
  base64: gnu(BASE64_OPTIONS),
  numfmt: gnu(NUMFMT_OPTIONS),
  column: gnu(COLUMN_OPTIONS),
  stat: gnu(STAT_OPTIONS),
  file: gnu(FILE_OPTIONS),
  du: gnu(DU_OPTIONS),
  df: gnu(DF_OPTIONS),
  tree: { options: TREE_OPTIONS, abbreviations: false },
  sed: gnu(SED_OPTIONS, { operands: sedOperands }),
  // man shows a page through a pager and formatters (interactive pagers run shell escapes): only its lookups are read-only.
  man: gnu(MAN_OPTIONS, {
    operands: (_operands, seen) =>
      seen.some((s) =>
        [
          "-k",
          "--apropos",
          "-K",
          "--global-apropos",
          "-f",
          "--whatis",
          "-w",
          "--where",
          "--path",
          "--location",
          "-W",
          "--where-cat",
          "--location-cat",
        ].includes(s.name),
      )
        ? null
        : { kind: "not-read-only", why: "shows a manual page through a pager and formatter programs" },
  }),
  tar: gnu(TAR_LIST_OPTIONS, {
    operands: (_operands, seen) =>
      seen.some((s) => s.name === "-t" || s.name === "--list") ? null : { kind: "not-read-only", why: "does more than list an archive" },
  }),
  hostname: gnu([...HELP, ...flags("-a --alias -d --domain -f --fqdn --long -A --all-fqdns -i --ip-address -I --all-ip-addresses -s --short -y --yp --nis")], {
    operands: atMostOperands(0, "sets the host name"),
  }),
  ...Object.fromEntries(Object.entries(SIMPLE).map(([name, options]) => [name, gnu(options, { numericShort: name === "pr" })])),
  // BSD-style `ps e`/`ps auxe` prints every process's environment, where granted secrets live.
  ps: gnu(SIMPLE.ps!, {
    operands: (operands) => (operands.some((o) => /^[a-zA-Z]*e/.test(o)) ? { kind: "not-read-only", why: "prints processes' environments" } : null),
  }),
  xxd: { options: SIMPLE.xxd!, abbreviations: false, operands: atMostOperands(1, "writes its output to the file named as its second operand") },
};

// ---------------------------------------------------------------------------
// Parsing

function lookupLong(table: ProgramTable, given: string): { row: OptionRow; name: string; abbreviated?: true } | "ambiguous" | null {
  for (const row of table.options) if (row.names.includes(given)) return { row, name: row.names[0]! };
  if (!table.abbreviations || given.length < 3) return null;
  const hits = table.options.filter((row) => row.names.some((n) => n.startsWith("--") && n.startsWith(given)));
  if (hits.length === 0) return null;
  // getopt_long: an abbreviation is only accepted when it names one option.
  const distinct = new Set(hits);
  if (distinct.size > 1) return "ambiguous";
  const row = hits[0]!;
  return { row, name: row.names[0]!, abbreviated: true };
}

function lookupShort(table: ProgramTable, letter: string): OptionRow | null {
  // A value-taking row wins over a flag row of the same letter (tables list both for -C in diff).
  const rows = table.options.filter((row) => row.names.includes(`-${letter}`));
  return rows.find((r) => r.value === "required") ?? rows.find((r) => r.value === "optional") ?? rows[0] ?? null;
}

/** Splits args into known options and operands the way the program does. */
export function parseWithTable(
  table: ProgramTable,
  args: readonly ShellArg[],
): { seen: SeenOption[]; operands: string[]; unknown?: string; dynamic?: string; nextIndex: number } {
  const seen: SeenOption[] = [];
  const operands: string[] = [];
  let endOfOptions = false;
  let abbreviation: string | undefined;
  let i = 0;
  for (; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.static) return { seen, operands, dynamic: arg.text, nextIndex: i };
    const v = arg.value;
    // `rg foo *` with a file named `--pre=x.sh`: a glob that starts with a
    // wildcard may expand to option-like names, which the program reads as options.
    if (
      arg.glob &&
      !endOfOptions &&
      !table.operandsOnly &&
      /^[*?[]/.test(v) &&
      table.options.some((r) => r.effect === "runs-program" || r.effect === "writes")
    ) {
      return { seen, operands, unknown: `${v} (a wildcard that may expand to file names read as options)`, nextIndex: i };
    }
    if (table.operandsOnly || endOfOptions || v === "-" || !v.startsWith("-")) {
      operands.push(v);
      if (table.stopAtOperand) {
        for (let j = i + 1; j < args.length; j++) {
          if (!args[j]!.static) return { seen, operands, dynamic: args[j]!.text, nextIndex: j };
          operands.push(args[j]!.value);
        }
        return { seen, operands, nextIndex: args.length };
      }
      continue;
    }
    if (v === "--") {
      endOfOptions = true;
      continue;
    }
    if (v.startsWith("--")) {
      const eq = v.indexOf("=");
      const given = eq === -1 ? v : v.slice(0, eq);
      const hit = lookupLong(table, given);
      if (hit === null || hit === "ambiguous") return { seen, operands, unknown: given, nextIndex: i };
      let value: string | undefined = eq === -1 ? undefined : v.slice(eq + 1);
      if (value === undefined && hit.row.value === "required") {
        const next = args[i + 1];
        if (next && !next.static) return { seen, operands, dynamic: next.text, nextIndex: i + 1 };
        value = next?.value;
        i++;
      }
      seen.push({ row: hit.row, spelled: v, name: hit.name, value });
      // The program takes the abbreviation, but the table cannot rule out an
      // option it lacks whose full name this is: only an abbreviation of an
      // option with an effect is judged (as that effect); any other asks.
      if (hit.abbreviated && !hit.row.effect && !hit.row.judge) abbreviation ??= `${given} (taken as ${hit.name})`;
      continue;
    }
    // Single-dash words (find -name, xxd -cols): a whole-word row wins over a cluster.
    const word = table.options.find((row) => row.names.includes(v) && v.length > 2);
    if (word) {
      let value: string | undefined;
      if (word.value === "required") {
        const next = args[i + 1];
        if (next && !next.static) return { seen, operands, dynamic: next.text, nextIndex: i + 1 };
        value = next?.value;
        i++;
      }
      seen.push({ row: word, spelled: v, name: word.names[0]!, value });
      continue;
    }
    if (table.numericShort && /^-\d+$/.test(v)) {
      seen.push({ row: { names: ["-n"], value: "required" }, spelled: v, name: "-n", value: v.slice(1) });
      continue;
    }
    // A cluster: flags until one takes a value, which takes the rest of the word or the next argument.
    for (let k = 1; k < v.length; k++) {
      const letter = v[k]!;
      const row = lookupShort(table, letter);
      if (!row) return { seen, operands, unknown: v.length > 2 ? `-${letter} (in ${v})` : `-${letter}`, nextIndex: i };
      if (row.value === "required" || row.value === "optional") {
        let value: string | undefined = v.slice(k + 1);
        if (value === "") {
          value = undefined;
          if (row.value === "required") {
            const next = args[i + 1];
            if (next && !next.static) return { seen, operands, dynamic: next.text, nextIndex: i + 1 };
            value = next?.value;
            i++;
          }
        }
        seen.push({ row, spelled: v, name: row.names[0]!, value });
        break;
      }
      seen.push({ row, spelled: v, name: row.names[0]! });
    }
  }
  return abbreviation === undefined ? { seen, operands, nextIndex: i } : { seen, operands, unknown: abbreviation, nextIndex: i };
}

function effectOf(seen: readonly SeenOption[], cmd: SimpleCommand): Finding | null {
  for (const s of seen) {
    const judged = s.row.judge?.(s.value, cmd) ?? (s.row.effect ? { effect: s.row.effect, why: s.row.why ?? "does more than read" } : null);
    if (judged) return { kind: "effect", option: s.spelled, ...judged };
  }
  return null;
}

function judgeWithTable(table: ProgramTable, args: readonly ShellArg[], program: string, cmd: SimpleCommand): Finding {
  const parsed = parseWithTable(table, args);
  const effect = effectOf(parsed.seen, cmd);
  if (effect) return effect;
  if (parsed.dynamic !== undefined) return { kind: "unknown-option", option: parsed.dynamic, program };
  if (parsed.unknown !== undefined) return { kind: "unknown-option", option: parsed.unknown, program };
  return table.operands?.(parsed.operands, parsed.seen, cmd) ?? { kind: "read-only" };
}

function judgeFind(args: readonly ShellArg[], cmd: SimpleCommand): Finding {
  const table: ProgramTable = { options: FIND_WORDS, abbreviations: false };
  const seen: SeenOption[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (!arg.static) {
      if (arg.text.startsWith("-")) return { kind: "unknown-option", option: arg.text, program: "find" };
      continue;
    }
    const v = arg.value;
    const row = table.options.find((r) => r.names.includes(v));
    if (!row) {
      if (v.startsWith("-") && v.length > 1) return { kind: "unknown-option", option: v, program: "find" };
      continue; // a start path or a value
    }
    if (row.effect) return { kind: "effect", option: v, effect: row.effect, why: row.why ?? "does more than read" };
    if (row.value === "required") i++;
    seen.push({ row, spelled: v, name: v });
  }
  return effectOf(seen, cmd) ?? { kind: "read-only" };
}

function judgeGit(args: readonly ShellArg[], cmd: SimpleCommand): Finding {
  const global = parseWithTable({ options: GIT_GLOBAL, abbreviations: false, stopAtOperand: true }, args);
  const effect = effectOf(global.seen, cmd);
  if (effect) return effect;
  if (global.dynamic !== undefined) return { kind: "unknown-option", option: global.dynamic, program: "git" };
  if (global.unknown !== undefined) return { kind: "unknown-option", option: global.unknown, program: "git" };
  const sub = global.operands[0];
  if (sub === undefined) return { kind: "read-only" }; // `git`, `git --version`
  const table = Object.hasOwn(GIT_SUBCOMMANDS, sub) ? GIT_SUBCOMMANDS[sub]! : undefined;
  if (!table) return { kind: "not-read-only", why: `git ${sub} is not a read-only subcommand` };
  const at = args.length - global.operands.length;
  const finding = judgeWithTable(table, args.slice(at + 1), `git ${sub}`, cmd);
  return finding;
}

/**
 * What a command of a read-only program really does, judged from its own
 * arguments (a wrapper's inner command is judged on its own). Null when the
 * program is not one the tables call read-only.
 */
export function judgeReadOnly(cmd: SimpleCommand): Finding | null {
  const name = cmd.name;
  if (name === null) return null;
  const args = (cmd.innerIndex === undefined ? cmd.args : cmd.args.slice(0, cmd.innerIndex)).slice(1);
  if (name === "git") return judgeGit(args, cmd);
  if (name === "find") return judgeFind(args, cmd);
  if (!Object.hasOwn(READ_ONLY_PROGRAMS, name)) return null;
  return judgeWithTable(READ_ONLY_PROGRAMS[name]!, args, name, cmd);
}

/** Every program name with a table (git and find included). */
export const READ_ONLY_PROGRAM_NAMES: readonly string[] = [...Object.keys(READ_ONLY_PROGRAMS), "git", "find"].sort();

const EFFECT_PHRASES: Record<OptionEffect, string> = {
  "runs-program": "starts another program",
  writes: "writes files",
  network: "reaches the network",
  "changes-directory": "works in another directory",
  "changes-configuration": "changes the program's configuration",
  "reads-elsewhere": "reads a file the policy does not see as an operand",
};

export function effectPhrase(effect: OptionEffect): string {
  return EFFECT_PHRASES[effect];
}
