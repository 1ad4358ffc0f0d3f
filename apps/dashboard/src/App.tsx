import { Alert } from "./components/Alert.tsx";
import { AuthForm } from "./components/AuthForm.tsx";
import { Dashboard } from "./components/Dashboard.tsx";
import { trpc } from "./trpc.ts";
import { useAsync } from "./useAsync.ts";

export function App() {
  const me = useAsync(() => trpc.auth.me.query());

  if (me.data === undefined) {
    return (
      <main className="auth">
        {me.error ? (
          <Alert>{`Could not reach the server: ${me.error}`}</Alert>
        ) : (
          <p className="muted">Loading…</p>
        )}
      </main>
    );
  }
  if (me.data === null) return <AuthForm onSignedIn={me.reload} />;
  return <Dashboard me={me.data} onSignedOut={me.reload} />;
}
