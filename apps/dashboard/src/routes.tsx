import { lazy, type ReactNode, Suspense } from "react";
import { createBrowserRouter } from "react-router";
import { AuthPage } from "./pages/Auth.tsx";
import { Catalog } from "./pages/Catalog.tsx";
import { ConnectPage } from "./pages/Connect.tsx";
import { InstanceDetail } from "./pages/InstanceDetail.tsx";
import { Instances } from "./pages/Instances.tsx";
import { NotFound } from "./pages/NotFound.tsx";
import { Overview } from "./pages/Overview.tsx";
import { Shell } from "./Shell.tsx";
import { Loading } from "./ui/states.tsx";

// The charts library is the heaviest dependency: only the usage page loads it. Pages a first visit does not
// need load on demand too, to keep the first page small.
const Usage = lazy(() => import("./pages/Usage.tsx"));
const Audit = lazy(() => import("./pages/Audit.tsx").then((m) => ({ default: m.Audit })));
const ApiKeys = lazy(() => import("./pages/ApiKeys.tsx").then((m) => ({ default: m.ApiKeys })));
const Account = lazy(() => import("./pages/Account.tsx").then((m) => ({ default: m.Account })));
const Org = lazy(() => import("./pages/Org.tsx").then((m) => ({ default: m.Org })));
const Invite = lazy(() => import("./pages/Invite.tsx").then((m) => ({ default: m.Invite })));

const later = (what: string, page: ReactNode) => (
  <Suspense fallback={<Loading what={what} />}>{page}</Suspense>
);

export const router = createBrowserRouter([
  { path: "/signin", element: <AuthPage mode="signin" /> },
  { path: "/signup", element: <AuthPage mode="signup" /> },
  {
    path: "/",
    element: <Shell />,
    children: [
      { index: true, element: <Overview /> },
      { path: "catalog", element: <Catalog /> },
      { path: "connect/:serviceType", element: <ConnectPage /> },
      { path: "instances", element: <Instances /> },
      { path: "instances/:serviceType", element: <InstanceDetail /> },
      { path: "usage", element: later("usage", <Usage />) },
      { path: "audit", element: later("the audit log", <Audit />) },
      { path: "api-keys", element: later("API keys", <ApiKeys />) },
      { path: "account", element: later("your account", <Account />) },
      { path: "org", element: later("organisations", <Org />) },
      { path: "invite/:orgId/:token", element: later("the invitation", <Invite />) },
      { path: "*", element: <NotFound /> },
    ],
  },
]);
