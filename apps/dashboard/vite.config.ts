import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

// The control plane serves this build at `/` and the API at `/trpc` on the same origin;
// in `vite dev` the proxy gives the same shape.
const api = process.env.CONTROL_PLANE_URL ?? "http://127.0.0.1:3000";

export default defineConfig({
  base: "/",
  plugins: [react()],
  build: { outDir: "dist", emptyOutDir: true },
  server: { host: "127.0.0.1", proxy: { "/trpc": api } },
});
