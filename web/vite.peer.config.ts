// The browser peer as one ES module (dist/peer/hyphae-peer.js, @noble inlined) for pages that want
// to be Hyphae peers without a bundler of their own; the web app bundles the same sources itself.
import { defineConfig } from "vite";

export default defineConfig({
  build: {
    outDir: "dist/peer",
    emptyOutDir: true,
    target: "es2022",
    lib: { entry: "src/peer/index.ts", formats: ["es"], fileName: () => "hyphae-peer.js" },
  },
});
