// The web app (messenger and control panel) the node serves at /app: dist/app/index.html and
// hashed assets under dist/app/assets/.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  root: "src/app",
  base: "/app/",
  plugins: [react()],
  build: {
    outDir: "../../dist/app",
    emptyOutDir: true,
    target: "es2022",
    assetsInlineLimit: 0,
  },
});
