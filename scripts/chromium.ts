// The dashboard's browser tests drive Debian's Chromium (no browser download). `bun run test` installs
// it with apt when it is missing and this user may (root with apt-get); otherwise it says how.
import { existsSync } from "node:fs";

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function ensureChromium(): Promise<boolean> {
  if (existsSync(CHROMIUM)) return true;
  const canApt = process.getuid?.() === 0 && existsSync("/usr/bin/apt-get");
  if (!canApt) {
    console.warn(
      `Chromium not found at ${CHROMIUM}: install it (apt-get install chromium) or set CHROMIUM_PATH.`,
    );
    return false;
  }
  console.log("installing Debian's chromium for the dashboard tests (apt-get)...");
  const sh =
    "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null";
  const proc = Bun.spawn(["sh", "-c", sh], { stdio: ["ignore", "inherit", "inherit"] });
  return (await proc.exited) === 0 && existsSync(CHROMIUM);
}
