// A second, private Docker engine for tests that must stop, restart or overload an
// engine without touching the machine's main one (other suites run on it).
// Its own data root, exec root, pidfile and socket; no default bridge and no
// iptables rules (runs without egress use --network none); runc only (an empty
// daemon.json, so the main engine's runtimes are not registered here). The
// sandbox image is copied from the main engine (docker save | docker load) once:
// the data root is kept under /var/tmp between test runs, keyed by name.
// Needs root (dockerd), as the main engine does. Reusable (the engine-pool work
// of issue 17 can run two of these).
import { execFile, spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import Docker from "dockerode";

const execFileP = promisify(execFile);

export interface SecondEngine {
  name: string;
  /** For DOCKER_HOST (dockerode and the docker CLI read it). */
  host: string;
  socketPath: string;
  /** A client of this engine (not the process-wide one): over the unix socket. */
  docker: Docker;
  /** With `tls: true`: where it also listens, tcp://127.0.0.1:PORT with TLS client certificates, and the PEM material a client needs. */
  tcp: { endpoint: string; host: string; port: number; ca: string; cert: string; key: string } | null;
  running(): boolean;
  /** SIGTERM to dockerd, as a service stop does (SIGKILL: a crash); resolves when it has exited. */
  stop(signal?: "SIGTERM" | "SIGKILL"): Promise<void>;
  /** Starts dockerd again on the same roots and waits until it answers. */
  start(): Promise<void>;
  /** Stops the engine, removes every container it still has; keeps the data root (the cached image). */
  destroy(): Promise<void>;
  log(): string;
}

export interface SecondEngineOptions {
  /** Short: it becomes part of socket paths (108 bytes at most). */
  name: string;
  /** Images to copy from the main engine when missing. */
  images: string[];
  /**
   * Also listen on loopback TCP with TLS (--tlsverify): a CA, a server
   * certificate for 127.0.0.1 and a client certificate are generated with
   * openssl on first use and kept beside the data root. Port: `tcpPort`, or a
   * free one.
   */
  tls?: boolean;
  tcpPort?: number;
}

export interface TlsMaterial {
  ca: string;
  cert: string;
  key: string;
  serverCert: string;
  serverKey: string;
  dir: string;
}

/** A test CA, a server certificate for 127.0.0.1/localhost and a client certificate (PEM files in dir, made once). */
export async function engineTlsMaterial(dir: string): Promise<TlsMaterial> {
  fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
  const f = (n: string) => path.join(dir, n);
  if (!fs.existsSync(f("client-cert.pem"))) {
    const sh = `set -e
cd "$1"
openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=airlock test engine CA" -keyout ca-key.pem -out ca.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=127.0.0.1" -keyout server-key.pem -out server.csr 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > server-ext.cnf
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 -extfile server-ext.cnf -out server-cert.pem 2>/dev/null
openssl req -newkey rsa:2048 -nodes -subj "/CN=airlock" -keyout client-key.pem -out client.csr 2>/dev/null
printf 'extendedKeyUsage=clientAuth\n' > client-ext.cnf
openssl x509 -req -in client.csr -CA ca.pem -CAkey ca-key.pem -CAcreateserial -days 3650 -extfile client-ext.cnf -out client-cert.pem 2>/dev/null
rm -f server.csr client.csr`;
    await execFileP("bash", ["-c", sh, "certs", dir], { timeout: 60_000 });
  }
  const r = (n: string) => fs.readFileSync(f(n), "utf8");
  return { ca: r("ca.pem"), cert: r("client-cert.pem"), key: r("client-key.pem"), serverCert: f("server-cert.pem"), serverKey: f("server-key.pem"), dir };
}

/** A TCP port nothing listens on now (the kernel's pick). */
export async function freePort(): Promise<number> {
  const net = await import("node:net");
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
  });
}

export async function startSecondEngine(opts: SecondEngineOptions): Promise<SecondEngine> {
  if (process.getuid?.() !== 0) throw new Error("A second Docker engine needs root (dockerd); run the fault suite as root, as npm start runs the engine.");
  const base = `/var/tmp/airlock-engine-${opts.name}`;
  const run = `/tmp/ale-${opts.name}`; // exec root and socket: short paths (unix socket names are limited)
  const dataRoot = path.join(base, "data");
  const execRoot = path.join(run, "exec");
  const socketPath = path.join(run, "docker.sock");
  const pidFile = path.join(run, "docker.pid");
  const configFile = path.join(run, "daemon.json");
  fs.mkdirSync(dataRoot, { recursive: true });
  fs.mkdirSync(execRoot, { recursive: true });
  fs.writeFileSync(configFile, "{}\n");
  const tlsMaterial = opts.tls ? await engineTlsMaterial(path.join(base, "tls")) : null;
  const tcpPort = tlsMaterial ? (opts.tcpPort ?? (await freePort())) : null;
  let proc: ChildProcess | undefined;
  let logText = "";
  const docker = new Docker({ socketPath });

  const waitAnswering = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      try {
        await docker.ping();
        return;
      } catch {
        if (!proc || proc.exitCode !== null) throw new Error(`dockerd ${opts.name} exited while starting:\n${logText.slice(-3000)}`);
        if (Date.now() > deadline) throw new Error(`dockerd ${opts.name} did not answer within ${timeoutMs} ms:\n${logText.slice(-3000)}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };

  const start = async () => {
    if (proc && proc.exitCode === null && proc.signalCode === null) return;
    // A previous test run killed without clean-up can leave its pidfile and socket.
    killLeftover(pidFile, "dockerd");
    killLeftover(path.join(execRoot, "containerd", "containerd.pid"), "containerd");
    fs.rmSync(socketPath, { force: true });
    proc = spawn(
      "dockerd",
      [
        `--data-root=${dataRoot}`,
        `--exec-root=${execRoot}`,
        `--pidfile=${pidFile}`,
        `--config-file=${configFile}`,
        `-H`,
        `unix://${socketPath}`,
        ...(tlsMaterial && tcpPort
          ? [
              "-H",
              `tcp://127.0.0.1:${tcpPort}`,
              "--tlsverify",
              `--tlscacert=${path.join(tlsMaterial.dir, "ca.pem")}`,
              `--tlscert=${tlsMaterial.serverCert}`,
              `--tlskey=${tlsMaterial.serverKey}`,
            ]
          : []),
        "--bridge=none",
        "--iptables=false",
        "--ip6tables=false",
        "--ip-masq=false",
        "--storage-driver=overlay2",
      ],
      // Its own process group: a crash (SIGKILL) takes its managed containerd with it, as
      // systemd does with the service's cgroup; the containers' shims live on, as they do there.
      { stdio: ["ignore", "pipe", "pipe"], detached: true },
    );
    const append = (c: Buffer) => {
      logText += c.toString();
      if (logText.length > 200_000) logText = logText.slice(-100_000);
    };
    proc.stdout!.on("data", append);
    proc.stderr!.on("data", append);
    await waitAnswering(60_000);
  };

  const stop = async (signal: "SIGTERM" | "SIGKILL" = "SIGTERM") => {
    const p = proc;
    if (!p || p.exitCode !== null || p.signalCode !== null) return;
    const exited = new Promise<void>((r) => p.once("exit", () => r()));
    if (signal === "SIGKILL") process.kill(-p.pid!, "SIGKILL");
    else p.kill(signal);
    const timer = setTimeout(() => p.kill("SIGKILL"), 30_000);
    await exited;
    clearTimeout(timer);
  };

  await start();
  for (const image of opts.images) {
    try {
      await docker.getImage(image).inspect();
    } catch {
      // docker save from the main engine into this one's load API.
      await execFileP("bash", ["-o", "pipefail", "-c", `docker save "$1" | docker -H "unix://$2" load -q`, "load", image, socketPath], {
        maxBuffer: 10 * 1024 * 1024,
        timeout: 300_000,
      });
    }
  }

  return {
    name: opts.name,
    host: `unix://${socketPath}`,
    socketPath,
    docker,
    tcp:
      tlsMaterial && tcpPort
        ? { endpoint: `tcp://127.0.0.1:${tcpPort}`, host: "127.0.0.1", port: tcpPort, ca: tlsMaterial.ca, cert: tlsMaterial.cert, key: tlsMaterial.key }
        : null,
    running: () => !!proc && proc.exitCode === null && proc.signalCode === null,
    stop: (signal) => stop(signal),
    start,
    async destroy() {
      try {
        if (proc && proc.exitCode === null) {
          const all = await docker.listContainers({ all: true });
          await Promise.all(
            all.map((c) =>
              docker
                .getContainer(c.Id)
                .remove({ force: true })
                .catch(() => undefined),
            ),
          );
        }
      } finally {
        await stop();
      }
    },
    log: () => logText,
  };
}

function killLeftover(pidFile: string, command: string): void {
  try {
    const pid = Number(fs.readFileSync(pidFile, "utf8").trim());
    // Only that program (the pid may have been reused since).
    if (pid > 0 && fs.readFileSync(`/proc/${pid}/comm`, "utf8").trim() === command) process.kill(pid, "SIGKILL");
  } catch {
    // no leftover
  }
  fs.rmSync(pidFile, { force: true });
}
