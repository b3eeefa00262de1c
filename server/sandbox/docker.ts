// The process-wide Docker client (DOCKER_HOST, or the local socket).
import Docker from "dockerode";

const globalForDocker = globalThis as unknown as { __airlockDocker?: Docker };

export function docker(): Docker {
  globalForDocker.__airlockDocker ??= new Docker();
  return globalForDocker.__airlockDocker;
}

/** The promise, or a rejection "<what> did not answer within <ms> ms" once ms have passed. */
export function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms} ms`)), ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export async function pingDocker(timeoutMs = 3000): Promise<{ version: string; apiVersion: string }> {
  const d = docker();
  await withTimeout(d.ping(), timeoutMs, "the Docker engine");
  const v = await withTimeout(d.version(), timeoutMs, "the Docker engine");
  return { version: v.Version, apiVersion: v.ApiVersion };
}

export async function imageExists(name: string): Promise<boolean> {
  try {
    await docker().getImage(name).inspect();
    return true;
  } catch (err) {
    if ((err as { statusCode?: number }).statusCode === 404) return false;
    throw err;
  }
}
