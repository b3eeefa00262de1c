// Ready-made domain lists for the usual package managers: offered on the run
// page's Network access panel, and granted with an approved install_package
// (pip, npm). Shared by the server and the browser (no Node imports here).
export const EGRESS_PRESETS = {
  pip: { label: "pip", domains: ["pypi.org", "files.pythonhosted.org"] },
  npm: { label: "npm", domains: ["registry.npmjs.org"] },
  github: { label: "GitHub", domains: ["github.com", "codeload.github.com", "objects.githubusercontent.com"] },
} as const satisfies Record<string, { label: string; domains: readonly string[] }>;

/** The registry an install_package of this manager needs, or null. */
export function registryFor(manager: unknown): { label: string; domains: readonly string[] } | null {
  return manager === "pip" || manager === "npm" ? EGRESS_PRESETS[manager] : null;
}
