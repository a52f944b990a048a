// End-to-end tests: Debian's Chromium driven by playwright-core against the real release binary
// (AGENTSIGHT_BIN), with data sent through the API and the real SDK (AGENTSIGHT_SDK_PYTHON).
import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["e2e/**/*.e2e.ts"],
    environment: "node",
    testTimeout: 60_000,
    hookTimeout: 120_000,
    fileParallelism: false,
    sequence: { concurrent: false },
  },
});
