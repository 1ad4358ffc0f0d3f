import { useState } from "react";
import { errorMessage, trpc } from "../trpc.ts";
import { Alert } from "./Alert.tsx";

export function Header({ email, onSignedOut }: { email: string; onSignedOut: () => Promise<void> }) {
  const [pending, setPending] = useState(false);
  const [error, setError] = useState<string>();

  async function signOut() {
    setPending(true);
    setError(undefined);
    try {
      await trpc.auth.signOut.mutate();
      await onSignedOut();
    } catch (err) {
      setError(errorMessage(err));
      setPending(false);
    }
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
