// The process-wide egress controller of the running dashboard (created on
// first use, restored once at startup from instrumentation.ts).
import { db } from "@/db/client";
import { config } from "@/server/config/env";
import { instanceIdForDataDir } from "@/server/sandbox/runtime";
import { EgressController, getEgressController, setEgressController } from "@/server/egress/controller";

export function processEgressController(): EgressController {
  let controller = getEgressController();
  if (!controller) {
    controller = new EgressController({ db: db(), instance: instanceIdForDataDir(config().dataDir) });
    setEgressController(controller);
  }
  return controller;
}

/** Sandboxes that had egress before a restart get it back (or go back to network "none"). */
export async function restoreEgress(): Promise<void> {
  try {
    await processEgressController().restore();
  } catch (err) {
    console.error("airlock: restoring sandbox egress failed:", err);
  }
}
