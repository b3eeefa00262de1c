// Merges Airlock's runsc entry into the Docker engine's daemon.json, keeping
// every other setting. Prints "unchanged" or "written". Used by
// scripts/ensure-gvisor.sh; args: <daemon.json path> <runsc path>.
import fs from "node:fs";
import path from "node:path";

const [file, runsc] = process.argv.slice(2);
if (!file || !runsc) {
  console.error("usage: node scripts/gvisor-daemon-json.mjs <daemon.json> <runsc path>");
  process.exit(2);
}
let config = {};
if (fs.existsSync(file)) {
  const text = fs.readFileSync(file, "utf8");
  try {
    config = text.trim() ? JSON.parse(text) : {};
  } catch (err) {
    console.error(`${file} is not valid JSON (${err.message}); fix it by hand, Airlock will not overwrite it`);
    process.exit(1);
  }
  if (typeof config !== "object" || config === null || Array.isArray(config)) {
    console.error(`${file} does not hold a JSON object; fix it by hand`);
    process.exit(1);
  }
}
const wanted = RUNSC_ENTRY(runsc);
const current = config.runtimes?.runsc;
if (current && JSON.stringify(current) === JSON.stringify(wanted)) {
  console.log("unchanged");
  process.exit(0);
}
config.runtimes = { ...(config.runtimes ?? {}), runsc: wanted };
fs.mkdirSync(path.dirname(file), { recursive: true });
const tmp = `${file}.airlock-tmp`;
fs.writeFileSync(tmp, JSON.stringify(config, null, 2) + "\n");
fs.renameSync(tmp, file);
console.log("written");

// --network=host: socket calls go to the host kernel, but inside the
// container's own network namespace (loopback only under NetworkMode none;
// the egress network once a run is granted access, which Docker may connect
// while the container runs). gVisor's own network stack (the default,
// --network=sandbox) fails to start here with "cannot run with network
// enabled in root network namespace", and could not see a network connected
// after start anyway.
// --oci-seccomp: gVisor applies the container's seccomp filter to the agent's
// own system calls (without it an agent could make user namespaces inside
// gVisor; server/sandbox/runtime.ts gives runsc sandboxes their filter).
function RUNSC_ENTRY(p) {
  return { path: p, runtimeArgs: ["--network=host", "--oci-seccomp"] };
}
