import { QueryClientProvider } from "@tanstack/react-query";
import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { RouterProvider } from "react-router/dom";
import { activeOrg, setActiveOrg } from "./org.ts";
import { router } from "./routes.tsx";
import { errorInfo, makeQueryClient, makeTrpcClient, TRPCProvider } from "./trpc.ts";
import "./styles.css";

const trpcClient = makeTrpcClient();
const queryClient = makeQueryClient({
  onUnauthorized: () => void sessionEnded(),
  onNotFound: () => void orgGone(),
});

let checking: Promise<void> | undefined;
/**
 * An answer said UNAUTHORIZED. When the session is gone (revoked from another browser, signed out everywhere,
 * expired), the dashboard forgets the signed-in state and goes to the sign-in page, which brings the user back
 * here. A wrong password answers UNAUTHORIZED too: `auth.me` tells the two apart. One check at a time.
 */
function sessionEnded(): Promise<void> {
  checking ??= (async () => {
    const { pathname, search } = window.location;
    if (pathname === "/signin" || pathname === "/signup") return;
    const me = await trpcClient.auth.me.query().catch(() => undefined);
    if (me !== null) return; // still signed in, or the server could not say
    setActiveOrg(null);
    queryClient.clear();
    const next = pathname + search;
    await router.navigate(next === "/" ? "/signin" : `/signin?next=${encodeURIComponent(next)}`, {
      replace: true,
    });
  })().finally(() => {
    checking = undefined;
  });
  return checking;
}

let checkingOrg: Promise<void> | undefined;
/**
 * An answer said NOT_FOUND while the dashboard acts in an organisation. When the user is no longer in it (removed,
 * or it is gone), every call there answers 404: the dashboard falls back to the personal organisation, reloads
 * what it shows, and says why (Shell). `auth.me` in that organisation tells this apart from an item not found.
 */
function orgGone(): Promise<void> {
  const org = activeOrg();
  if (!org) return Promise.resolve();
  checkingOrg ??= (async () => {
    const code = await trpcClient.auth.me.query().then(
      () => undefined,
      (err: unknown) => errorInfo(err).code,
    );
    // Still a member, or the user switched meanwhile: nothing to do.
    if (code !== "NOT_FOUND" || activeOrg() !== org) return;
    setActiveOrg(null, true);
    await queryClient.resetQueries();
  })().finally(() => {
    checkingOrg = undefined;
  });
  return checkingOrg;
}

const root = document.getElementById("root");
if (!root) throw new Error("#root is missing from index.html");
createRoot(root).render(
  <StrictMode>
    <QueryClientProvider client={queryClient}>
      <TRPCProvider trpcClient={trpcClient} queryClient={queryClient}>
        <RouterProvider router={router} />
      </TRPCProvider>
    </QueryClientProvider>
  </StrictMode>,
);
