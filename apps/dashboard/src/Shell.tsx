import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useId } from "react";
import { Navigate, NavLink, Outlet, useLocation, useNavigate } from "react-router";
import { useMutation } from "./mutation.ts";
import { activeOrg, setActiveOrg, useActiveOrg, useOrgLost } from "./org.ts";
import { errorInfo, useTRPC } from "./trpc.ts";
import { ErrorState, Loading } from "./ui/states.tsx";

const NAV = [
  { to: "/", label: "Overview", end: true },
  { to: "/catalog", label: "Catalog" },
  { to: "/instances", label: "Instances" },
  { to: "/usage", label: "Usage" },
  { to: "/audit", label: "Audit log" },
  { to: "/api-keys", label: "API keys" },
  { to: "/org", label: "Organisation" },
  { to: "/account", label: "Account" },
];

/** The signed-in frame: header, navigation, and the page. Signed-out visitors go to the sign-in page. */
export function Shell() {
  const trpc = useTRPC();
  const me = useQuery(trpc.auth.me.queryOptions());
  const location = useLocation();
  const navigate = useNavigate();
  const queryClient = useQueryClient();
  const orgLost = useOrgLost();
  const signOut = useMutation(
    trpc.auth.signOut.mutationOptions({
      onSuccess: async () => {
        // The organisation choice belongs to this user, not to the browser.
        setActiveOrg(null);
        queryClient.clear();
        await navigate("/signin");
      },
    }),
  );

  // An organisation the user is no longer in answers 404 to everything: fall back to the personal one.
  useEffect(() => {
    if (me.isError && activeOrg() && errorInfo(me.error).code === "NOT_FOUND") {
      setActiveOrg(null, true);
      void queryClient.resetQueries();
    }
  }, [me.isError, me.error, queryClient]);

  if (me.isPending) {
    return (
      <main className="p-6">
        <Loading what="your account" />
      </main>
    );
  }
  if (me.isError) {
    return (
      <main className="p-6">
        <ErrorState title="Could not reach the server" error={me.error} retry={() => void me.refetch()} />
      </main>
    );
  }
  if (me.data === null) {
    const next = location.pathname + location.search;
    return <Navigate to={next === "/" ? "/signin" : `/signin?next=${encodeURIComponent(next)}`} replace />;
  }

  return (
    <div className="min-h-dvh">
      <a href="#main" className="sr-only focus:not-sr-only focus:absolute focus:p-2 focus:z-50">
        Skip to content
      </a>
      <header className="border-b border-[var(--border)] bg-[var(--surface)]">
        <div className="mx-auto max-w-6xl px-3 sm:px-4 py-2 flex items-center gap-3 flex-wrap">
          <NavLink to="/" className="font-semibold no-underline text-[var(--text)]">
            MCP Platform
          </NavLink>
          <span className="muted text-sm truncate min-w-0 flex-1" data-testid="me">
            {me.data.email}
          </span>
          <OrgSwitcher />
          <button type="button" className="btn" disabled={signOut.isPending} onClick={() => signOut.mutate()}>
            Sign out
          </button>
        </div>
        <nav aria-label="Main" className="mx-auto max-w-6xl px-1 sm:px-2 pb-1 overflow-x-auto">
          <ul className="flex gap-1">
            {NAV.map((item) => (
              <li key={item.to}>
                <NavLink to={item.to} end={item.end} className="nav-link">
                  {item.label}
                </NavLink>
              </li>
            ))}
          </ul>
        </nav>
      </header>
      <main id="main" className="mx-auto max-w-6xl px-3 sm:px-4 py-5">
        {orgLost && (
          <p role="status" className="card mb-4" data-testid="org-lost">
            You are no longer a member of the organisation you were working in: the dashboard now shows your
            personal organisation.
          </p>
        )}
        <Outlet />
      </main>
    </div>
  );
}

/** Which organisation the dashboard acts in (sent as X-Org-Id); every list reloads on a change. */
function OrgSwitcher() {
  const trpc = useTRPC();
  const id = useId();
  const queryClient = useQueryClient();
  const current = useActiveOrg();
  const orgs = useQuery(trpc.orgs.list.queryOptions());
  if (!orgs.data || orgs.data.length < 2) return null;
  const personal = orgs.data.find((o) => o.personal);
  const value = current ?? personal?.orgId ?? "";
  return (
    <span className="flex items-center gap-1 min-w-0">
      <label htmlFor={`${id}-org`} className="text-sm muted">
        Organisation
      </label>
      <select
        id={`${id}-org`}
        className="input max-w-40"
        value={value}
        onChange={(e) => {
          const next = orgs.data.find((o) => o.orgId === e.target.value);
          setActiveOrg(next && !next.personal ? next.orgId : null);
          void queryClient.resetQueries();
        }}
      >
        {orgs.data.map((o) => (
          <option key={o.orgId} value={o.orgId}>
            {o.personal ? "Personal" : o.name}
          </option>
        ))}
      </select>
    </span>
  );
}
