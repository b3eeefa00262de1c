// What a reviewer saw of a request, as one hash: the call (tool, arguments),
// its preview (the diff), and any edit earlier voters attached. A batch
// decision names each request with the hash the reviewer's page was rendered
// from; a request whose hash has changed since is refused, not decided.
import crypto from "node:crypto";
import { canonicalJson } from "@/server/audit/chain";

export interface HashedApprovalContent {
  id: string;
  tool: string;
  args: Record<string, unknown>;
  preview: Record<string, unknown> | null;
  /** Edits attached by earlier votes (quorum requests), oldest first. */
  edits: (Record<string, unknown> | null)[];
}

export function approvalContentHash(content: HashedApprovalContent): string {
  return crypto
    .createHash("sha256")
    .update(canonicalJson({ id: content.id, tool: content.tool, args: content.args, preview: content.preview, edits: content.edits.filter(Boolean) }))
    .digest("hex");
}
