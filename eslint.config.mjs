import nextVitals from "eslint-config-next/core-web-vitals";
import nextTs from "eslint-config-next/typescript";

const config = [
  ...nextVitals,
  ...nextTs,
  {
    ignores: [".next/**", "node_modules/**", "data/**", "test-data/**", "db/migrations/**", "next-env.d.ts", "playwright-report/**", "test-results/**"],
  },
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
    },
  },
  {
    // Settings are read and validated once, in server/config/env.ts (instrumentation.ts asks Next's NEXT_RUNTIME).
    files: ["app/**", "components/**", "lib/**", "server/**", "db/**"],
    ignores: ["server/config/env.ts", "**/*.test.ts", "**/*.test.tsx"],
    rules: {
      "no-restricted-syntax": [
        "error",
        {
          selector: "MemberExpression[object.name='process'][property.name='env']",
          message: "Read settings in server/config/env.ts (config() or a read* function there), not from process.env.",
        },
      ],
    },
  },
];
export default config;
