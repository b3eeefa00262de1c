// Integration suites need a real engine and the sandbox image; without them
// they fail with the fix (never skip).
import { imageExists, pingDocker } from "@/server/sandbox/docker";
import { sandboxImageName } from "@/server/sandbox/image";

/** Returns the sandbox image name once the engine answers and the image exists. */
export async function requireDocker(): Promise<string> {
  try {
    await pingDocker(5000);
  } catch (err) {
    throw new Error(`These tests need a Docker engine: ${(err as Error).message}. Run: bash scripts/ensure-docker.sh`);
  }
  const image = sandboxImageName();
  if (!(await imageExists(image))) throw new Error(`Sandbox image ${image} is missing. Run: bash scripts/sandbox-image.sh`);
  return image;
}
