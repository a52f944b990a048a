// Vite: the dashboard is built into web/dist (committed, embedded in the server binary).
// Unit tests (Vitest) are the *.test.ts files next to the pure modules under src/.
import { defineConfig } from "vitest/config";

export default defineConfig({
  base: "/",
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    // One chunk for ECharts + the world map, one for the app: both are cached for a year by name.
    chunkSizeWarningLimit: 1200,
    rolldownOptions: {
      output: {
        manualChunks(id: string) {
          if (id.includes("node_modules/echarts") || id.includes("node_modules/zrender")) return "echarts";
          if (id.includes("node_modules/world-atlas") || id.includes("node_modules/topojson-client")) return "world";
          return undefined;
        },
      },
    },
  },
  server: {
    // `npm run dev` proxies the API to a running `agentsight serve` (AGENTSIGHT_URL).
    proxy: { "/api": process.env.AGENTSIGHT_URL ?? "http://127.0.0.1:8000" },
  },
  test: {
    include: ["src/**/*.test.ts"],
    environment: "node",
  },
});
