// Runs once per server process: starts the run supervisor (Node runtime only).
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  // First, so every request is stamped with its socket address (see server/auth/request-ip.ts).
  const { installPeerAddressStamp } = await import("./server/auth/request-ip");
  installPeerAddressStamp();
  const { startSupervisor } = await import("./server/supervisor/boot");
  try {
    await startSupervisor();
  } catch (err) {
    // Another Airlock holds this data directory (server/instance/lock.ts): say so and
    // stop, rather than serve a dashboard with no supervisor.
    if ((err as { code?: string }).code === "INSTANCE_LOCKED" || (err as { code?: string }).code === "CONFIG_ERROR") {
      console.error(`airlock: ${(err as Error).message}`);
      process.exit(1);
    }
    throw err;
  }
  const { restoreEgress } = await import("./server/egress/boot");
  await restoreEgress();
}
