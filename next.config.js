/** @type {import('next').NextConfig} */
const nextConfig = {
  // Native or socket-owning packages must not be bundled: each Next entry would
  // otherwise get its own copy (see docs/ARCHITECTURE.md, "Processes and singletons").
  serverExternalPackages: ["dockerode", "ssh2", "better-sqlite3", "@node-rs/argon2", "cpu-features", "mvdan-sh"],
  poweredByHeader: false,
  reactStrictMode: true,
  typescript: { ignoreBuildErrors: true }, // `npm test` runs tsc itself; don't type-check twice
};
module.exports = nextConfig;
