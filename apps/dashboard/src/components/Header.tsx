import { trpc } from "../trpc.ts";
import { useAction } from "../useAction.ts";
import { Alert } from "./Alert.tsx";

export function Header({ email, onSignedOut }: { email: string; onSignedOut: () => Promise<void> }) {
  const { pending, error, run } = useAction();

  async function signOut() {
    await run(async () => {
      await trpc.auth.signOut.mutate();
      await onSignedOut();
    });
  }

  return (
    <header className="topbar">
      <div className="topbar-inner">
        <span className="brand">MCP Platform</span>
        <div className="account">
          <span className="email" title="Signed in as">
            {email}
          </span>
          <button type="button" onClick={signOut} disabled={pending}>
            {pending ? "Signing out…" : "Sign out"}
          </button>
        </div>
      </div>
      {error && <Alert>{error}</Alert>}
    </header>
  );
}
