// The built-in "supervised" policy: reads in the workspace run freely, every
// change waits for a reviewer, and what could wreck the sandbox, escalate
// privileges or plant code outside review (git hooks, shell start-up files)
// is denied outright. Plain data, so it can be shown, diffed and (issue 4)
// edited as YAML.
import type { Policy, PolicyRule, PolicyToolName } from "./policy";

const FILE_TOOLS: PolicyToolName[] = ["read_file", "list_files", "search_files", "write_file", "edit_file"];
const WRITE_TOOLS: PolicyToolName[] = ["write_file", "edit_file"];
const CMD: PolicyToolName[] = ["run_command"];

/** Deleting any of these (recursively) wrecks the sandbox or the work in it. */
const DESTRUCTIVE_TARGETS = ["/", "/*", "~", "~/*", "/home", "/home/*", "/workspace", "/workspace/*", "/root"];

/** Files a login or interactive shell runs: code planted there runs outside review. */
export const SHELL_STARTUP_FILES = [
  "~/.bashrc", "~/.bash_profile", "~/.bash_login", "~/.bash_logout", "~/.profile",
  "~/.zshrc", "~/.zshenv", "~/.zprofile", "~/.zlogin", "~/.inputrc", "~/.config/fish/**",
  "/home/*/.*rc", "/home/*/*rc", "/home/*/.profile", "/home/*/.bash_profile", "/home/*/.bash_login",
  "/etc/profile", "/etc/profile.d/**", "/etc/bash.bashrc", "/etc/environment", "/etc/zsh/**",
  "**/.bashrc", "**/.bash_profile", "**/.bash_login", "**/.profile", "**/.zshrc", "**/.zshenv", "**/.zprofile",
];

/** Where credentials live; reading them is exfiltration, writing them is persistence. */
const CREDENTIAL_PATHS = [
  "/proc/**/environ", "/proc/**/mem", "/proc/kcore", "/proc/*/root", "/proc/*/root/**", "/proc/*/fd/*", "/proc/*/map_files/**",
  "~/.ssh", "~/.ssh/**", "/home/*/.ssh/**", "/root", "/root/**",
  "~/.aws/**", "~/.azure/**", "~/.config/gcloud/**", "~/.kube/**", "~/.docker/config.json", "~/.gnupg/**",
  "~/.config/gh/**", "~/.netrc", "~/.git-credentials", "~/.npmrc", "~/.pypirc",
  "/run/secrets/**", "/var/run/secrets/**", "/etc/shadow", "/etc/gshadow", "/etc/sudoers", "/etc/sudoers.d/**",
];

/** Files in a project that usually hold secrets: reading or changing them needs a reviewer. */
const SECRET_FILES = [
  "**/.env", "**/.env.*", "**/*.pem", "**/*.key", "**/*.p12", "**/*.pfx", "**/*.keystore",
  "**/id_rsa*", "**/id_dsa*", "**/id_ecdsa*", "**/id_ed25519*", "**/.npmrc", "**/.pypirc", "**/.htpasswd", "**/.netrc",
];

/** Searching these recursively sweeps up the system, other processes or credentials. */
const PROTECTED_SEARCH_ROOTS = ["/", "/proc", "/proc/**", "/sys", "/sys/**", "/dev", "/dev/**", "/home", "~", "~/**", "/root", "/root/**", "/run", "/run/**", "/etc", "/var/run/**"];

/** Files that make code run outside the sandbox (CI) or on a developer's machine (hooks). */
export const CI_AND_HOOK_CONFIG = [
  "**/.github/workflows/**", "**/.github/actions/**", "**/.gitlab-ci.yml", "**/.circleci/**", "**/Jenkinsfile",
  "**/.husky/**", "**/.pre-commit-config.yaml", "**/.envrc", "**/.gitattributes", "**/.gitmodules",
  "**/.devcontainer/**", "**/.vscode/tasks.json",
];

export const GIT_INTERNALS = ["**/.git", "**/.git/**"];

/** git keys whose value is a program git will run. */
export const GIT_EXEC_KEYS =
  "^(core\\.(hookspath|fsmonitor|sshcommand|pager|editor|askpass|gitproxy|alternaterefscommand)|alias\\..+|.+\\.(command|textconv|process|clean|smudge|helper)|diff\\.external|sequence\\.editor|gpg(\\..+)?\\.program|credential\\..*|include\\.path|includeif\\..+|uploadpack\\.packobjectshook|protocol\\..+\\.allow)(=|$)";

const rules: PolicyRule[] = [
  // -- deny: destruction ---------------------------------------------------
  {
    id: "destructive-delete",
    description: "Recursive deletion of /, a top-level directory, a home directory or the whole workspace.",
    tools: CMD,
    match: { programs: ["rm"], anyOption: ["-r", "-R", "--recursive"], writes: { any: DESTRUCTIVE_TARGETS, mode: "covers" } },
    outcome: "deny",
    reason: "`{command}` would delete {target}; destructive commands are denied.",
  },
  {
    id: "destructive-delete-system-dir",
    description: "Recursive deletion of a top-level system directory (/etc, /usr…) or another user's home.",
    tools: CMD,
    match: { programs: ["rm"], anyOption: ["-r", "-R", "--recursive"], writes: { any: ["/*", "/home/*"], except: ["/workspace", "/tmp"] } },
    outcome: "deny",
    reason: "`{command}` would delete {target}; destructive commands are denied.",
  },
  {
    id: "destructive-find",
    description: "find -delete over / , a home directory or another top-level directory.",
    tools: CMD,
    match: { programs: ["find"], anyOption: ["-delete"], recursiveReads: { any: ["/", "/*", "~", "~/*", "/home"], mode: "covers" } },
    outcome: "deny",
    reason: "`{command}` would delete files across {target}; destructive commands are denied.",
  },
  {
    id: "irrecoverable-wipe",
    description: "Making file systems, partitioning, wiping or shredding.",
    tools: CMD,
    match: { programs: ["mkfs", "mkfs.*", "mke2fs", "mkswap", "wipefs", "fdisk", "sfdisk", "cfdisk", "parted", "shred", "blkdiscard"] },
    outcome: "deny",
    reason: "`{command}` destroys data beyond recovery; destructive commands are denied.",
  },
  {
    id: "device-write",
    description: "Writing to a device file (dd of=/dev/sda, > /dev/mem).",
    tools: CMD,
    match: { writes: { any: ["/dev/**"] } },
    outcome: "deny",
    reason: "`{command}` writes to the device {path}; writing to devices is denied.",
  },
  {
    id: "recursive-permissions-root",
    description: "Recursive chmod/chown/chgrp of /, a top-level directory or a home directory.",
    tools: CMD,
    match: { programs: ["chmod", "chown", "chgrp"], anyOption: ["-R", "--recursive"], writes: { any: ["/", "/*", "~", "/home", "/home/*"], mode: "covers" } },
    outcome: "deny",
    reason: "`{command}` would change permissions across {target}; destructive commands are denied.",
  },
  {
    id: "fork-bomb",
    description: "A function that starts copies of itself in a pipe or in the background.",
    tools: CMD,
    match: { flags: ["fork-bomb"] },
    outcome: "deny",
    reason: "`{command}` is a fork bomb: it starts copies of itself until the sandbox runs out of processes.",
  },
  {
    id: "mass-kill",
    description: "Killing processes by name.",
    tools: CMD,
    match: { programs: ["killall", "killall5", "pkill"] },
    outcome: "deny",
    reason: "`{command}` kills processes by name, including the sandbox's own; use kill with a process id you started.",
  },
  {
    id: "kill-all-processes",
    description: "kill -1 (every process), kill 0 or a negative PID (a process group), or PID 1 or 2 (the sandbox's init and keeper), in any spelling (-01, ' -1', -- -1, -s KILL).",
    tools: CMD,
    match: { check: "kill-all-processes" },
    outcome: "deny",
    reason: "`{command}` would kill every process in the sandbox, a whole process group, or the sandbox's own init; it is denied. Kill a process id you started.",
  },
  {
    id: "system-power",
    description: "Shutting down or rebooting.",
    tools: CMD,
    match: { programs: ["shutdown", "reboot", "halt", "poweroff", "telinit", "init"] },
    outcome: "deny",
    reason: "`{command}` would shut down or reboot the machine; it is denied.",
  },
  {
    id: "system-power-systemctl",
    description: "systemctl poweroff/reboot/halt.",
    tools: CMD,
    match: { programs: ["systemctl"], subcommands: ["poweroff", "reboot", "halt", "kexec", "emergency", "rescue", "suspend", "hibernate"] },
    outcome: "deny",
    reason: "`{command}` would shut down or reboot the machine; it is denied.",
  },
  // -- deny: privilege and escape -------------------------------------------
  {
    id: "privilege-escalation",
    description: "sudo, su, doas, pkexec and other ways to run as another user or with capabilities.",
    tools: CMD,
    match: { programs: ["sudo", "sudoedit", "su", "doas", "pkexec", "runuser", "setpriv", "capsh", "setcap", "newgrp", "sg", "chroot"] },
    outcome: "deny",
    reason: "`{command}` tries to gain other privileges with {program}; privilege escalation is denied.",
  },
  {
    id: "setuid-bit",
    description: "Setting a setuid or setgid bit.",
    tools: CMD,
    match: { programs: ["chmod", "install", "mkdir"], anyArg: ["(^|,)[ugoa]*[+=][rwxXstugo]*s", "^0*[2-7][0-7]{3}$"] },
    outcome: "deny",
    reason: "`{command}` sets a setuid/setgid bit ({arg}); privilege escalation is denied.",
  },
  {
    id: "chown-root",
    description: "Giving files to root.",
    tools: CMD,
    match: { programs: ["chown", "chgrp"], anyArg: ["^(root|0)(:.*)?$", "^[^:]*:(root|0)$"] },
    outcome: "deny",
    reason: "`{command}` gives files to root; privilege escalation is denied.",
  },
  {
    id: "container-escape",
    description: "Mounts, namespaces, kernel modules, firewall and kernel settings.",
    tools: CMD,
    match: { programs: ["mount", "umount", "insmod", "rmmod", "modprobe", "nsenter", "unshare", "sysctl", "iptables", "ip6tables", "nft", "swapon", "swapoff", "losetup", "debugfs", "kexec"] },
    outcome: "deny",
    reason: "`{command}` administers the kernel or namespaces ({program}); it is denied inside the sandbox.",
  },
  // -- deny: code planted outside review -------------------------------------
  {
    id: "git-internals-write",
    description: "Writing anything inside .git (hooks, config, objects).",
    tools: ["write_file", "edit_file", "run_command"],
    match: { writes: { any: GIT_INTERNALS } },
    outcome: "deny",
    reason: "{subject} writes to {path}, inside .git; hooks and config there run code outside review, so writes to .git internals are denied.",
  },
  {
    id: "git-config-exec",
    description: "git config keys whose value is a program git runs (core.hooksPath, core.fsmonitor, alias.*, *.command…).",
    tools: CMD,
    match: { programs: ["git"], anyArg: [GIT_EXEC_KEYS] },
    outcome: "deny",
    reason: "`{command}` sets {arg}, which makes git run a program of the agent's choosing; it is denied.",
  },
  {
    id: "git-config-write",
    description: "git config that changes a setting (it writes .git/config).",
    tools: CMD,
    match: { check: "git-config-write" },
    outcome: "deny",
    reason: "`{command}` writes .git/config, where hooks, aliases and pagers can run code outside review; writes to .git internals are denied.",
  },
  {
    id: "shell-startup-write",
    description: "Writing shell start-up files (~/.bashrc, .profile, .zshrc…).",
    tools: ["write_file", "edit_file", "run_command"],
    match: { writes: { any: SHELL_STARTUP_FILES } },
    outcome: "deny",
    reason: "{subject} writes to the shell start-up file {path}, which runs in every later shell; it is denied.",
  },
  {
    id: "credential-access",
    description: "Reading or writing credential stores (/proc/*/environ, ~/.ssh, cloud CLIs, /etc/shadow).",
    tools: [...FILE_TOOLS, "run_command"],
    match: { touches: { any: CREDENTIAL_PATHS } },
    outcome: "deny",
    reason: "{subject} touches {path}, where credentials live; access to credential stores is denied.",
  },
  {
    id: "outside-workspace",
    description: "File tools only work inside /workspace.",
    tools: FILE_TOOLS,
    match: { touches: { any: ["/**"], except: ["/workspace", "/workspace/**"] } },
    outcome: "deny",
    reason: "{path} is outside /workspace; file tools only work inside the workspace.",
  },
  {
    id: "http-scheme",
    description: "http_fetch only speaks http and https.",
    tools: ["http_fetch"],
    match: { url: { exceptSchemes: ["http", "https"] } },
    outcome: "deny",
    reason: "{url} uses the {scheme} scheme; only http and https can be fetched.",
  },
  {
    id: "metadata-endpoint",
    description: "Cloud metadata services hand out machine credentials.",
    tools: ["http_fetch"],
    match: { url: { hosts: ["169.254.169.254", "metadata.google.internal", "metadata", "100.100.100.200", "fd00:ec2::254"] } },
    outcome: "deny",
    reason: "{host} is a cloud metadata service that hands out machine credentials; it is denied.",
  },
  // -- ask: what the policy cannot see -----------------------------------------
  {
    id: "unparseable",
    description: "The command line does not parse as shell.",
    tools: CMD,
    match: { parse: "error" },
    outcome: "ask",
    reason: "The command could not be parsed ({error}), so the policy cannot judge it; a reviewer must read it.",
  },
  {
    id: "unanalysable",
    description: "Shell the policy does not follow (unknown constructs, deep nesting, too many parts).",
    tools: CMD,
    match: { flags: ["unknown-construct", "too-deep", "too-many-parts"] },
    outcome: "ask",
    reason: "`{command}` {flag}; a reviewer must read it.",
  },
  {
    id: "dynamic-code",
    description: "Code built or read at run time: $(…), eval, source, exec, interpreters given code, pipes into a shell.",
    tools: CMD,
    match: {
      flags: ["command-substitution", "process-substitution", "eval", "source", "exec", "trap", "interpreter-code", "pipe-into-shell", "heredoc-into-shell", "script-file", "interactive-shell"],
    },
    outcome: "ask",
    reason: "`{command}` {flag}; the policy cannot see everything it will run, so a reviewer decides.",
  },
  {
    id: "sensitive-environment",
    description: "Setting PATH, LD_PRELOAD, BASH_ENV and other variables that decide what runs, or GIT_TRACE and others that make a program write to a path.",
    tools: CMD,
    match: { flags: ["sensitive-env"] },
    outcome: "ask",
    reason: "`{command}` {flag}; a reviewer decides.",
  },
  {
    id: "program-by-path",
    description: "A program run by path from the workspace or /tmp, which may shadow a system program.",
    tools: CMD,
    match: { flags: ["program-by-path"] },
    outcome: "ask",
    reason: "`{command}` runs {program}, a program from a path rather than the system's; a reviewer decides.",
  },
  {
    id: "shell-definition",
    description: "Defining shell functions or aliases, which can shadow any command.",
    tools: CMD,
    match: { flags: ["function-definition", "alias-definition"] },
    outcome: "ask",
    reason: "`{command}` {flag}; a reviewer decides.",
  },
  {
    id: "indirect-execution",
    description: "Commands run with arguments only known at run time (xargs, find -exec).",
    tools: CMD,
    match: { flags: ["xargs", "find-exec", "args-from-input"] },
    outcome: "ask",
    reason: "`{command}` {flag}; a reviewer decides.",
  },
  {
    id: "detached-process",
    description: "Programs that start a command outside the command's session or process group (setsid, daemonize, screen, tmux, at…), where the command's timeout cannot stop it.",
    tools: CMD,
    match: { programs: ["setsid", "daemonize", "start-stop-daemon", "disown", "screen", "tmux", "dtach", "abduco", "at", "batch", "systemd-run"] },
    outcome: "ask",
    reason: "`{command}` can start a process that outlives the command's timeout; a reviewer decides.",
  },
  {
    id: "background-job",
    description: "Background jobs and coprocesses escape the command's timeout.",
    tools: CMD,
    match: { flags: ["background", "coprocess"] },
    outcome: "ask",
    reason: "`{command}` {flag}; a reviewer decides.",
  },
  {
    id: "environment-dump",
    description: "Printing the environment, where granted secrets live.",
    tools: CMD,
    match: { flags: ["environment-dump"] },
    outcome: "ask",
    reason: "`{command}` {flag}; a reviewer decides.",
  },
  {
    id: "dynamic-value",
    description: "Programs or arguments that are only known at run time ($X, arithmetic, programs named by variables).",
    tools: CMD,
    match: { flags: ["dynamic-program", "glob-program", "parameter-expansion", "arithmetic", "unresolved-brace"] },
    outcome: "ask",
    reason: "`{command}` {flag}; what it does is only known when it runs, so a reviewer decides.",
  },
  {
    id: "git-risky-options",
    description: "git options that change its configuration, repository or the programs it runs.",
    tools: CMD,
    match: { programs: ["git"], anyOption: ["-c", "--exec-path", "--git-dir", "--work-tree", "--config-env", "--namespace", "--ext-diff", "--upload-pack", "--receive-pack", "--exec", "--output"] },
    outcome: "ask",
    reason: "`{command}` overrides git's configuration, repository or helper programs; a reviewer decides.",
  },
  {
    id: "secret-file",
    description: "Files that usually hold secrets (.env, keys, .npmrc).",
    tools: ["read_file", "search_files", "write_file", "edit_file", "run_command"],
    match: { paths: { any: SECRET_FILES } },
    outcome: "ask",
    reason: "{subject} touches {path}, which usually holds secrets; a reviewer decides.",
  },
  {
    id: "recursive-read-protected",
    description: "Recursive searches or listings of /, /proc, /sys, /dev, home directories or /etc.",
    tools: CMD,
    match: { recursiveReads: { any: PROTECTED_SEARCH_ROOTS } },
    outcome: "ask",
    reason: "`{command}` searches {target} recursively, which can sweep up credentials or process data; a reviewer decides.",
  },
  {
    id: "network-command",
    description: "Programs that reach the network.",
    tools: CMD,
    match: { programs: ["curl", "wget", "nc", "ncat", "netcat", "socat", "ssh", "scp", "sftp", "telnet", "ftp", "rsync"] },
    outcome: "ask",
    reason: "`{command}` reaches the network with {program}; a reviewer decides.",
  },
  {
    id: "network-redirect",
    description: "Bash's /dev/tcp and /dev/udp network redirections.",
    tools: CMD,
    match: { touches: { any: ["/dev/tcp/**", "/dev/udp/**"] } },
    outcome: "ask",
    reason: "`{command}` opens a network connection through {path}; a reviewer decides.",
  },
  {
    id: "find-delete",
    description: "find -delete removes every file it matches.",
    tools: CMD,
    match: { programs: ["find"], anyOption: ["-delete"] },
    outcome: "ask",
    reason: "`{command}` deletes every file it finds; a reviewer decides.",
  },
  {
    id: "ci-config-write",
    description: "CI workflows and git hook managers run code outside the sandbox: two reviewers, not the run's creator alone.",
    tools: ["write_file", "edit_file", "run_command"],
    match: { writes: { any: CI_AND_HOOK_CONFIG } },
    outcome: "ask",
    reason: "{subject} changes {path}, which runs code outside the sandbox (CI or git hooks); it needs two reviewers.",
    requiredApprovals: 2,
    allowSelfApproval: false,
  },
  {
    id: "command-writes-file",
    description: "Commands that write, move or delete files.",
    tools: CMD,
    match: { writes: {} },
    outcome: "ask",
    reason: "`{command}` writes to {path}; file changes need a reviewer.",
  },
  {
    id: "workspace-write",
    description: "Every file change in the workspace is reviewed.",
    tools: WRITE_TOOLS,
    match: {},
    outcome: "ask",
    reason: "Writing {path} changes the workspace; a reviewer approves every file change.",
  },
  {
    id: "package-install",
    description: "Package installs run code from a registry.",
    tools: ["install_package"],
    match: {},
    outcome: "ask",
    reason: "Installing {packages} with {manager} runs code from a package registry; installs always need a reviewer.",
  },
  {
    id: "http-fetch",
    description: "No allow-list yet: every fetch is reviewed.",
    tools: ["http_fetch"],
    match: {},
    outcome: "ask",
    reason: "Fetching {url} reaches the network; there is no allow-list yet, so a reviewer decides.",
  },
  {
    id: "secret-request",
    description: "Secrets are granted by a reviewer other than the run's creator.",
    tools: ["request_secret"],
    match: {},
    outcome: "ask",
    reason: "The agent asks for the secret {secret}; a reviewer other than the run's creator decides.",
    allowSelfApproval: false,
  },
  // -- allow -------------------------------------------------------------------
  {
    id: "read-only-command",
    description: "Commands that only read or print.",
    tools: CMD,
    match: {
      programs: [
        "ls", "cat", "head", "tail", "wc", "pwd", "stat", "which", "type", "du", "tree", "uniq", "diff", "cmp", "echo", "printf",
        "true", "false", ":", "test", "[", "[[", "cd", "pushd", "popd", "basename", "dirname", "realpath", "readlink",
        "whoami", "id", "date", "uname", "nproc",
      ],
    },
    outcome: "allow",
    reason: "`{command}` only reads or prints.",
  },
  {
    id: "read-only-sort",
    description: "sort without a compression program.",
    tools: CMD,
    match: { programs: ["sort"], noOption: ["--compress-program"] },
    outcome: "allow",
    reason: "`{command}` only reads and sorts.",
  },
  {
    id: "read-only-file",
    description: "file without compiling a magic file.",
    tools: CMD,
    match: { programs: ["file"], noOption: ["-C", "--compile"] },
    outcome: "allow",
    reason: "`{command}` only reads file types.",
  },
  {
    id: "read-only-find",
    description: "find without -exec, -delete, -ok or -fprint.",
    tools: CMD,
    match: { programs: ["find"], noOption: ["-exec", "-execdir", "-ok", "-okdir", "-delete", "-fprint", "-fprint0", "-fprintf", "-fls"] },
    outcome: "allow",
    reason: "`{command}` only lists files.",
  },
  {
    id: "read-only-search",
    description: "grep and ripgrep without preprocessors.",
    tools: CMD,
    match: { programs: ["grep", "egrep", "fgrep", "rg"], noOption: ["--pre", "--pre-glob"] },
    outcome: "allow",
    reason: "`{command}` only searches files.",
  },
  {
    id: "read-only-git",
    description: "git status, log, diff and show.",
    tools: CMD,
    match: { programs: ["git"], subcommands: ["status", "log", "diff", "show"] },
    outcome: "allow",
    reason: "`{command}` only reads the repository.",
  },
  {
    id: "transparent-wrapper",
    description: "Wrappers that only change how a command runs; the wrapped command is judged on its own.",
    tools: CMD,
    match: { programs: ["env", "nice", "timeout", "nohup", "stdbuf", "command", "builtin", "time", "ionice", "taskset", "chrt", "unbuffer"], flags: ["wrapper"] },
    outcome: "allow",
    reason: "`{command}` only wraps another command, which is judged on its own.",
  },
  {
    id: "inline-shell",
    description: "A shell given literal code; the code is parsed and judged on its own.",
    tools: CMD,
    match: { programs: ["sh", "bash", "dash", "zsh", "ksh", "mksh", "ash"], flags: ["inline-shell"] },
    outcome: "allow",
    reason: "`{command}` runs literal shell code, which is judged on its own.",
  },
  {
    id: "variable-assignment",
    description: "Setting shell variables.",
    tools: CMD,
    match: { flags: ["assignment-only"] },
    outcome: "allow",
    reason: "`{command}` only sets shell variables.",
  },
  {
    id: "empty-command",
    description: "A command line with nothing to run (blank or only comments).",
    tools: CMD,
    match: { parse: "empty" },
    outcome: "allow",
    reason: "The command has nothing to run.",
  },
  {
    id: "workspace-read",
    description: "Reading and searching inside the workspace, and the documentation index.",
    tools: ["read_file", "list_files", "search_files", "search_docs"],
    match: {},
    outcome: "allow",
    reason: "Reading inside the workspace is allowed.",
  },
  {
    id: "plan-and-finish",
    description: "Plans are approved elsewhere; finishing only ends the run.",
    tools: ["submit_plan", "finish"],
    match: {},
    outcome: "allow",
    reason: "{tool} is always allowed; plans are reviewed by the plan approval step.",
  },
  {
    id: "project-tests",
    description: "The project's configured test command (set by the operator, not the agent).",
    tools: ["run_tests"],
    match: {},
    outcome: "allow",
    reason: "run_tests runs the project's configured test command.",
  },
];

export const DEFAULT_POLICY: Policy = {
  id: "supervised",
  name: "Supervised",
  description:
    "Reads inside the workspace run freely; every change, network access, install and anything the policy cannot see waits for a reviewer; destruction, privilege escalation and writes to git internals or shell start-up files are denied.",
  default: { verdict: "ask", reason: "No rule covers {subject}, so a reviewer decides." },
  rules,
};
