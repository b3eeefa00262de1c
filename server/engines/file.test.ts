import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, readConfig, readEnginesFilePath } from "@/server/config/env";
import { parseEnginesFile, readEnginesFile, type ReadMaterial } from "./file";

const CERT = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUQk\n-----END CERTIFICATE-----\n";
const KEY = "-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49\n-----END PRIVATE KEY-----\n";
const SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----\n";
const FILES: Record<string, string> = { "ca.pem": CERT, "cert.pem": CERT, "key.pem": KEY, "build.key": SSH_KEY };
/** A reader over fixed files, as the file's folder would hold them. */
const read: ReadMaterial = (v) => {
  if (v.startsWith("-----BEGIN")) return v;
  const text = FILES[v];
  if (text === undefined) throw new Error(`the file /etc/airlock/${v} does not exist or cannot be read`);
  return text;
};
const parse = (text: string) => parseEnginesFile(text, "/etc/airlock/engines.yaml", read);
const failure = (text: string): string => {
  try {
    parse(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("expected the file to be refused");
};

describe("the AIRLOCK_ENGINES file", () => {
  it("reads a good YAML file: tcp with TLS files, ssh with a key file, labels and capacity", () => {
    const engines = parse(`engines:
  - name: gpu-1
    endpoint: tcp://10.0.0.5:2376
    labels: [gpu, big-memory]
    capacity: { runs: 4, cpus: 16, memoryMb: 65536 }
    tls: { ca: ca.pem, cert: cert.pem, key: key.pem }
  - name: build-1
    endpoint: ssh://docker@10.0.0.6:2222
    ssh: { privateKeyFile: build.key }
  - name: side
    endpoint: unix:///run/other/docker.sock
`);
    expect(engines).toEqual([
      {
        name: "gpu-1",
        endpoint: "tcp://10.0.0.5:2376",
        labels: ["gpu", "big-memory"],
        capacity: { runs: 4, cpus: 16, memoryMb: 65536 },
        credentials: { ca: CERT, cert: CERT, key: KEY },
      },
      {
        name: "build-1",
        endpoint: "ssh://docker@10.0.0.6:2222",
        labels: [],
        capacity: { runs: null, cpus: null, memoryMb: null },
        credentials: { privateKey: SSH_KEY },
      },
      { name: "side", endpoint: "unix:///run/other/docker.sock", labels: [], capacity: { runs: null, cpus: null, memoryMb: null }, credentials: null },
    ]);
  });

  it("reads JSON too, a bare list, and inline PEM", () => {
    const engines = parse(JSON.stringify([{ name: "a", endpoint: "tcp://h:2376", tls: { ca: CERT, cert: CERT, key: KEY } }]));
    expect(engines[0]!.credentials).toEqual({ ca: CERT, cert: CERT, key: KEY });
    expect(parse("")).toEqual([]);
    expect(parse("engines: []")).toEqual([]);
  });

  it.each([
    ["a missing name", "engines:\n  - endpoint: tcp://h:2376\n", /engines\[0\]\.name: missing/],
    ["a bad name", "engines:\n  - name: GPU_1\n    endpoint: tcp://h:2376\n", /engines\[0\] \("GPU_1"\)\.name: "GPU_1" is not an engine name/],
    ["the name local", "engines:\n  - name: local\n    endpoint: tcp://h:2376\n", /\.name: "local" is the engine next to Airlock/],
    [
      "a name listed twice",
      "engines:\n  - name: a\n    endpoint: tcp://h:2376\n  - name: a\n    endpoint: tcp://g:2376\n",
      /engines\[1\] \("a"\)\.name: "a" is listed twice/,
    ],
    [
      "a tcp endpoint without port",
      "engines:\n  - name: a\n    endpoint: tcp://10.0.0.5\n",
      /engines\[0\] \("a"\)\.endpoint: a tcp:\/\/ endpoint needs host:port, like tcp:\/\/10\.0\.0\.5:2376/,
    ],
    ["an http endpoint", "engines:\n  - name: a\n    endpoint: http://h:2375\n", /\.endpoint: "http:\/\/h:2375" is not a Docker endpoint/],
    [
      "an ssh endpoint without user",
      "engines:\n  - name: a\n    endpoint: ssh://10.0.0.6\n",
      /\.endpoint: an ssh:\/\/ endpoint needs a user, like ssh:\/\/docker@10\.0\.0\.6/,
    ],
    [
      "TLS with two of three",
      "engines:\n  - name: a\n    endpoint: tcp://h:2376\n    tls: { ca: ca.pem, cert: cert.pem }\n",
      /\("a"\)\.tls\.key: TLS needs ca, cert and key together \(or none\); key is missing/,
    ],
    [
      "a TLS file that does not exist",
      "engines:\n  - name: a\n    endpoint: tcp://h:2376\n    tls: { ca: nope.pem, cert: cert.pem, key: key.pem }\n",
      /\.tls\.ca: the file \/etc\/airlock\/nope\.pem does not exist/,
    ],
    [
      "a key where a certificate goes",
      "engines:\n  - name: a\n    endpoint: tcp://h:2376\n    tls: { ca: key.pem, cert: cert.pem, key: key.pem }\n",
      /\.tls\.ca: tls\.ca holds a PRIVATE KEY, not a CERTIFICATE/,
    ],
    [
      "TLS on an ssh endpoint",
      "engines:\n  - name: a\n    endpoint: ssh://u@h\n    tls: { ca: ca.pem, cert: cert.pem, key: key.pem }\n",
      /\.tls\.ca: TLS material is for tcp:\/\/ endpoints only/,
    ],
    [
      "an unknown field",
      "engines:\n  - name: a\n    endpoint: tcp://h:2376\n    lables: [gpu]\n",
      /engines\[0\] \("a"\)\.lables: unknown field; the fields are name, endpoint, labels, capacity, tls, ssh/,
    ],
    ["a bad label", "engines:\n  - name: a\n    endpoint: tcp://h:2376\n    labels: [GPU!]\n", /\.labels: "GPU!" is not a label/],
    ["labels not a list", "engines:\n  - name: a\n    endpoint: tcp://h:2376\n    labels: gpu\n", /\.labels: must be a list of words/],
    [
      "a capacity of zero runs",
      "engines:\n  - name: a\n    endpoint: tcp://h:2376\n    capacity: { runs: 0 }\n",
      /\.capacity\.runs: must be a whole number of runs from 1 to 1000, got 0/,
    ],
    [
      "a capacity as text",
      "engines:\n  - name: a\n    endpoint: tcp://h:2376\n    capacity: { memoryMb: 8G }\n",
      /\.capacity\.memoryMb: must be a number, got "8G"/,
    ],
    [
      "an encrypted ssh key",
      'engines:\n  - name: a\n    endpoint: ssh://u@h\n    ssh: { privateKey: "-----BEGIN ENCRYPTED PRIVATE KEY-----\\nabc\\n-----END ENCRYPTED PRIVATE KEY-----" }\n',
      /\.ssh\.privateKey: the private key is protected by a passphrase/,
    ],
    ["not a list", "engines: gpu-1\n", /must hold a list of engines under "engines:"/],
    ["another top-level key", "engine:\n  - name: a\n", /must hold a list of engines under "engines:"/],
    ["a YAML anchor", "engines:\n  - &base\n    name: a\n    endpoint: tcp://h:2376\n  - *base\n", /YAML (anchor &base|alias \*base) refused/],
    ["a duplicate key", "engines:\n  - name: a\n    name: b\n    endpoint: tcp://h:2376\n", /not valid YAML or JSON: .*[Mm]ap keys must be unique/],
  ])("refuses %s, naming the entry and field", (_what, text, message) => {
    const msg = failure(text);
    expect(msg).toMatch(message);
    expect(msg).toMatch(/^AIRLOCK_ENGINES \(\/etc\/airlock\/engines\.yaml\): /);
    expect(msg).toMatch(/Fix the file, or unset AIRLOCK_ENGINES\.$/);
  });
});

describe("AIRLOCK_ENGINES, the variable and the files it names", () => {
  it("is optional; a path that is not a file stops the start naming the variable", () => {
    expect(readEnginesFilePath({})).toBeUndefined();
    expect(() => readConfig({ AIRLOCK_ENGINES: "/nonexistent/engines.yaml" })).toThrow(
      /AIRLOCK_ENGINES names \/nonexistent\/engines\.yaml, which does not exist/,
    );
    expect(() => readEnginesFilePath({ AIRLOCK_ENGINES: os.tmpdir() })).toThrow(/which is not a file/);
  });

  it("reads TLS files relative to the engines file's folder", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "airlock-engines-"));
    try {
      fs.mkdirSync(path.join(dir, "certs"));
      for (const [n, text] of [
        ["ca.pem", CERT],
        ["cert.pem", CERT],
        ["key.pem", KEY],
      ])
        fs.writeFileSync(path.join(dir, "certs", n!), text!);
      const file = path.join(dir, "engines.yaml");
      fs.writeFileSync(file, "engines:\n  - name: a\n    endpoint: tcp://h:2376\n    tls: { ca: certs/ca.pem, cert: certs/cert.pem, key: certs/key.pem }\n");
      expect(readEnginesFilePath({ AIRLOCK_ENGINES: file })).toBe(file);
      expect(readEnginesFile(file)[0]!.credentials).toEqual({ ca: CERT, cert: CERT, key: KEY });
      fs.writeFileSync(file, "engines:\n  - name: a\n    endpoint: tcp://h:2376\n    tls: { ca: certs/nope.pem, cert: certs/cert.pem, key: certs/key.pem }\n");
      expect(() => readEnginesFile(file)).toThrow(`engines[0] ("a").tls.ca: the file ${path.join(dir, "certs", "nope.pem")} does not exist or cannot be read`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
