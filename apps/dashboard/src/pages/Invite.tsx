import { useQueryClient } from "@tanstack/react-query";
import { useNavigate, useParams } from "react-router";
import { useMutation } from "../mutation.ts";
import { setActiveOrg } from "../org.ts";
import { useTRPC } from "../trpc.ts";
import { PageHeader } from "../ui/Page.tsx";
import { ActionError } from "../ui/states.tsx";

/** Where an invitation link lands (signed out, the sign-in page comes first and brings the user back). */
export function Invite() {
  const { orgId = "", token = "" } = useParams();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const navigate = useNavigate();
  const accept = useMutation(
    trpc.orgs.acceptInvitation.mutationOptions({
      onSuccess: async (org) => {
        setActiveOrg(org.orgId);
        await queryClient.resetQueries();
        await navigate("/org", { replace: true });
      },
    }),
  );
  return (
    <>
      <PageHeader title="Join an organisation">
        You were invited to an organisation on MCP Platform.
      </PageHeader>
      <div className="card space-y-3 max-w-lg">
        <p className="text-sm">
          Joining lets its admins see your instances in it. You can leave at any time from the Organisation
          page.
        </p>
        {accept.isError && <ActionError error={accept.error} />}
        <button
          type="button"
          className="btn btn-primary"
          // Busy, not disabled: a disabled button drops focus to <body>, and a refusal must leave it here.
          aria-disabled={accept.isPending ? true : undefined}
          aria-busy={accept.isPending ? true : undefined}
          onClick={() => accept.mutate({ orgId, token })}
        >
          {accept.isPending ? "Joining…" : "Join organisation"}
        </button>
      </div>
    </>
  );
}
