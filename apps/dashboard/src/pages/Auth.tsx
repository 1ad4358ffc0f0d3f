import { useQuery, useQueryClient } from "@tanstack/react-query";
import { type FormEvent, useEffect, useId, useRef, useState } from "react";
import { Link, Navigate, useNavigate, useSearchParams } from "react-router";
import { useMutation } from "../mutation.ts";
import { setActiveOrg } from "../org.ts";
import { errorInfo, useTRPC } from "../trpc.ts";
import { TextField } from "../ui/Field.tsx";
import { ErrorCode } from "../ui/states.tsx";

/**
 * Only a path of this app: one leading `/` (never `//`), no backslash (browsers read `/\host` as `//host`) and no
 * control character (a tab or a newline is dropped from URLs: `/\t/host` is `//host`), and it stays on this
 * origin. Anything else goes to the overview: no open redirect through ?next=, and no crash.
 */
function safeNext(next: string | null): string {
  if (!next?.startsWith("/") || next.startsWith("//")) return "/";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this refuses
  if (/[\\\u0000-\u001f\u007f]/.test(next)) return "/";
  try {
    return new URL(next, window.location.origin).origin === window.location.origin ? next : "/";
  } catch {
    return "/";
  }
}

export function AuthPage({ mode }: { mode: "signin" | "signup" }) {
  const trpc = useTRPC();
  const id = useId();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const [params] = useSearchParams();
  const next = safeNext(params.get("next"));
  const me = useQuery(trpc.auth.me.queryOptions());
  const [email, setEmail] = useState("");
  const [password, setPassword] = useState("");
  const heading = useRef<HTMLHeadingElement>(null);
  const errorRef = useRef<HTMLDivElement>(null);
  const signUp = mode === "signup";
  const onSuccess = async () => {
    setActiveOrg(null);
    await queryClient.invalidateQueries();
    await navigate(next, { replace: true });
  };
  const signInM = useMutation(trpc.auth.signIn.mutationOptions({ onSuccess }));
  const signUpM = useMutation(trpc.auth.signUp.mutationOptions({ onSuccess }));
  const action = signUp ? signUpM : signInM;
  const info = action.error ? errorInfo(action.error) : undefined;
  const passwordProblem = info && (info.code === "BAD_REQUEST" || info.code === "UNAUTHORIZED");

  useEffect(() => {
    document.title = `${signUp ? "Create an account" : "Sign in"} · MCP Platform`;
    heading.current?.focus({ preventScroll: true });
  }, [signUp]);
  useEffect(() => {
    if (action.error) errorRef.current?.focus();
  }, [action.error]);

  if (me.data) return <Navigate to={next} replace />;

  function submit(e: FormEvent) {
    e.preventDefault();
    action.mutate({ email: email.trim(), password });
  }

  return (
    <div className="min-h-dvh grid place-items-center px-3 py-8">
      <main className="w-full max-w-4xl grid gap-6 md:grid-cols-2 items-start">
        <section aria-labelledby={`${id}-what`} className="md:pt-6">
          <p className="font-semibold text-[var(--accent)]">MCP Platform</p>
          <h2 id={`${id}-what`} className="text-2xl font-semibold tracking-tight mt-1">
            Your tools, in every AI client, with one URL each.
          </h2>
          <p className="muted mt-3">
            Connect Figma, GitHub, Notion, Slack, Stripe, Jira and more with your own API key. We check the
            key, seal it, and give you a personal MCP endpoint that works in Claude, Claude Code, Cursor, VS
            Code, Windsurf or any MCP client.
          </p>
          <ul className="mt-3 text-sm space-y-1 list-disc pl-5">
            <li>Keys encrypted at rest, never shown again, never shared between users.</li>
            <li>Rotate or revoke a URL at any time; it stops working everywhere at once.</li>
            <li>See every tool call, its latency and errors.</li>
          </ul>
        </section>
        <section className="card" aria-labelledby={`${id}-title`}>
          <h1
            id={`${id}-title`}
            ref={heading}
            tabIndex={-1}
            className="text-xl font-semibold outline-none mb-3"
          >
            {signUp ? "Create an account" : "Sign in"}
          </h1>
          <form onSubmit={submit} className="space-y-3" noValidate={false}>
            <TextField
              id={`${id}-email`}
              label="Email"
              type="email"
              autoComplete="email"
              required
              maxLength={254}
              value={email}
              invalid={!!info && !passwordProblem}
              errorId={info ? `${id}-error` : undefined}
              onValue={setEmail}
            />
            <TextField
              id={`${id}-password`}
              label="Password"
              hint={signUp ? "At least 10 characters." : undefined}
              type="password"
              autoComplete={signUp ? "new-password" : "current-password"}
              required
              minLength={signUp ? 10 : undefined}
              maxLength={256}
              value={password}
              invalid={!!passwordProblem}
              errorId={info ? `${id}-error` : undefined}
              onValue={setPassword}
            />
            {info && (
              <div ref={errorRef} tabIndex={-1} id={`${id}-error`} className="alert" role="alert">
                {info.message}
                <ErrorCode info={info} />
              </div>
            )}
            <button type="submit" className="btn btn-primary w-full" disabled={action.isPending}>
              {action.isPending ? "Please wait…" : signUp ? "Create account" : "Sign in"}
            </button>
          </form>
          <p className="text-sm mt-4">
            {signUp ? (
              <>
                Already have an account? <Link to={`/signin${params.size ? `?${params}` : ""}`}>Sign in</Link>
              </>
            ) : (
              <>
                New here? <Link to={`/signup${params.size ? `?${params}` : ""}`}>Create an account</Link>
              </>
            )}
          </p>
        </section>
      </main>
    </div>
  );
}
