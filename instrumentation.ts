// Runs once per server process: starts the run supervisor (Node runtime only).
export async function register() {
  if (process.env.NEXT_RUNTIME !== "nodejs") return;
  // First, so every request is stamped with its socket address (see server/auth/request-ip.ts).
  const { installPeerAddressStamp } = await import("./server/auth/request-ip");
  installPeerAddressStamp();
  const { startSupervisor } = await import("./server/supervisor/boot");
  await startSupervisor();
  const { restoreEgress } = await import("./server/egress/boot");
  await restoreEgress();
}
