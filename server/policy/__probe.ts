import { decide } from "./policy";
const bad = [
  "ls; rm x", "cat x | tee y", "ls > y", "ls >> y", "echo x 1>y", "cat <> x", "find . -fprint x", "find . -exec ls \\;", "find . -ok ls \\;",
  "sort -o x y", "sort --output=x y", "sort --compress-program=sh x", "uniq a b", "git config x y", "git -c a=b status", "git --exec-path=/tmp status",
  "git --git-dir=/tmp/x status", "git log --output=x", "git diff --ext-diff", "git status --porcelain; git push", "git stash", "git checkout .",
  "file -C -m x", "rg --pre sh x", "grep -r x /proc", "grep -R x ~", "rg x /", "du -a /", "tree /", "ls -R /", "ls -laR ~",
  "echo $(id)", "echo `id`", "echo ${X}", "echo $((1))", "echo <(ls)", "cat ~/.ssh/config", "cat .env.local", "head ~/.aws/credentials",
  "tail -f /proc/1/environ", "wc /proc/self/environ", "cat /run/secrets/x", "cd ~/.ssh; ls", "ls ~root", "stat /root", "cat /etc/shadow",
  "ls &", "cat x &", "nohup ls", "timeout 1 ls > x", "env", "env -i", "printenv HOME", "export", "declare -p", "set", "alias",
  "x=1 y=$(id)", "PATH=x", "IFS=x", "LD_PRELOAD=x", "ENV=x sh", "BASH_ENV=x", "a=$(rm -rf /)", "cat x | sh", "cat x | bash -s",
  "echo ls | bash", "bash", "sh", "python3", "node", "bash -i", "sh -s", "busybox sh", "busybox", "command", "builtin", "exec ls",
  "source x", ". x", "eval ls", "eval", "trap 'ls' EXIT", "f(){ ls; }", "alias x=ls", "unalias ls", "hash -r", "enable -n ls",
  "cd /; ls", "pushd /", "./x", "../x", "/tmp/x", "~/x", "x/y", "\"$0\"", "$0", "$SHELL -c ls", "${SHELL}", "type -a ls; ./ls",
  "ls; sudo ls", "ls | sudo tee x", "cat x > /dev/sda", "echo x > /proc/sys/kernel/x", "echo x > /sys/x", "ls > ~/.profile",
  "read x", "mapfile x", "wait", "kill %1", "fg", "bg", "disown", "ulimit -n 1", "umask 000", "shopt -s x", "set -e",
  "diff <(ls) <(ls -a)", "cat /dev/tcp/1.2.3.4/80", "ls /dev/tcp/x/1 > y", "test -f x && rm x", "[ -f x ] || rm -rf x",
  "cat README.md >&2 > x", "ls 2> x", "echo >| x", "echo &> x", "cat > x <<EOF\nhi\nEOF", "tee < x", "cat x | tee -a y",
  "git diff > patch.diff", "git show HEAD > x", "git log | sh", "git status | bash", "ls | xargs cat", "ls -1 | xargs -n1 echo",
  "find . | xargs", "stat -c %n x > y", "which x > y", "pwd > y", "true > x", ": > x", "echo $'\\x41' > x",
];
for (const c of bad) {
  const d = decide({ tool: "run_command", command: c });
  if (d.verdict === "allow") console.log("ALLOWED:", JSON.stringify(c), d.rule);
}
console.log("done");
