import { describe, expect, it } from "vitest";
import { agentIdConflicts } from "./agent-uid";

const empty = { passwd: "", group: "", subuid: "", subgid: "" };

describe("airlock doctor: the agent uid", () => {
  it("M2: flags a host account, group or subordinate-id range that uses the sandbox's uid/gid", () => {
    const files = {
      passwd: "root:x:0:0:root:/root:/bin/bash\nalice:x:1000:1000::/home/alice:/bin/bash\n",
      group: "root:x:0:\nalice:x:1000:\n",
      subuid: "alice:100000:65536\n",
      subgid: "alice:100000:65536\n",
    };
    // uid 1000, the old agent uid, is alice on such a host.
    expect(agentIdConflicts(files, 1000, 1000)).toEqual(['host account "alice" has uid 1000', 'host group "alice" has gid 1000']);
    expect(agentIdConflicts(files, 165535, 100000)).toEqual([
      "/etc/subuid gives alice the range 100000-165535, which holds 165535",
      "/etc/subgid gives alice the range 100000-165535, which holds 100000",
    ]);
    expect(agentIdConflicts(files, 2000000000, 2000000000)).toEqual([]);
  });

  it("finds nothing on a host without those files", () => {
    expect(agentIdConflicts(empty, 2000000000, 2000000000)).toEqual([]);
  });
});
