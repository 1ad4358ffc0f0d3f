import { type FormEvent, useId, useState } from "react";
import { trpc } from "../trpc.ts";
import { useAction } from "../useAction.ts";
import { Alert } from "./Alert.tsx";

type Mode = "signIn" | "signUp";

export function AuthForm({ onSignedIn }: { onSignedIn: () => Promise<void> }) {
  const id = useId();
  const [mode, setMode] = useState<Mode>("signIn");
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const { pending, error, setError, run } = useAction();
  const signUp = mode === "signUp";

  async function submit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    await run(async () => {
      if (signUp) {
        await trpc.auth.signUp.mutate({ email, password });
        // Sign-up should open a session; sign in explicitly if it did not.
        if (!(await trpc.auth.me.query())) await trpc.auth.signIn.mutate({ email, password });
      } else {
        await trpc.auth.signIn.mutate({ email, password });
      }
      await onSignedIn();
    });
  }

  function toggle() {
    setMode(signUp ? "signIn" : "signUp");
    setError(undefined);
  }

  return (
    <main className="auth">
      <p className="brand">MCP Platform</p>
      <form className="card auth-card" onSubmit={submit} aria-labelledby={`${id}-title`} aria-busy={pending}>
        <h1 id={`${id}-title`}>{signUp ? "Create your account" : "Sign in"}</h1>
        <div className="field">
          <label htmlFor={`${id}-email`}>Email</label>
          <input
            id={`${id}-email`}
            type="email"
            autoComplete="email"
            required
            value={email}
            onChange={(e) => setEmail(e.target.value)}
          />
        </div>
        <div className="field">
          <label htmlFor={`${id}-password`}>Password</label>
          <input
            id={`${id}-password`}
            type="password"
            autoComplete={signUp ? "new-password" : "current-password"}
            required
            minLength={signUp ? 10 : undefined}
            aria-describedby={signUp ? `${id}-hint` : undefined}
            value={password}
            onChange={(e) => setPassword(e.target.value)}
          />
          {signUp && (
            <p id={`${id}-hint`} className="hint">
              At least 10 characters.
            </p>
          )}
        </div>
        {error && <Alert>{error}</Alert>}
        <button type="submit" className="primary" disabled={pending}>
          {signUp ? (pending ? "Creating account…" : "Create account") : pending ? "Signing in…" : "Sign in"}
        </button>
        <p className="switch">
          {signUp ? "Already have an account?" : "New here?"}{" "}
          <button type="button" className="link" onClick={toggle}>
            {signUp ? "Sign in instead" : "Create an account"}
          </button>
        </p>
      </form>
    </main>
  );
}
