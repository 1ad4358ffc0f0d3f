import { useState } from "react";
import type { IssuedInstance } from "../trpc.ts";
import { CopyButton } from "../ui/CopyButton.tsx";
import { Dialog, DialogClose } from "../ui/Dialog.tsx";
import { ClientSetup } from "./ClientSetup.tsx";
import { TestConnection } from "./TestConnection.tsx";

/** `https://edge/mcp_fig_••••••••/mcp`: the shape of the URL without its secret. */
export function maskUrl(url: string): string {
  return url.replace(/(\/mcp_[a-z0-9]+_)[^/]+/i, "$1••••••••••••");
}

interface Props {
  issued: IssuedInstance | undefined;
  serviceName: string;
  title: string;
  onDone: () => void;
}

/**
 * The instance URL, shown once: masked until revealed, copy, client set-up and a live test. Each URL issued
 * starts masked: the page stays mounted from one rotation to the next, so the dialog's state is keyed by the URL.
 */
export function IssuedDialog(props: Props) {
  if (!props.issued) return null;
  return <Issued key={props.issued.instanceUrl} {...props} issued={props.issued} />;
}

function Issued({ issued, serviceName, title, onDone }: Props & { issued: IssuedInstance }) {
  const [revealed, setRevealed] = useState(false);
  const url = issued.instanceUrl;
  return (
    <Dialog
      open
      sticky
      onOpenChange={(open) => {
        if (!open) onDone();
      }}
      // Closing navigates to the instance's page, whose heading takes focus: the dialog must not then hand
      // focus back to a trigger that is gone (which leaves it on <body>).
      onClosed={() => {}}
      title={title}
      description="This URL is your personal MCP endpoint. It carries its own secret: anyone holding it can use your connection."
      testId="issued-dialog"
    >
      <p className="alert font-semibold">Shown once: copy it now. It won't be shown again.</p>
      <div className="mt-3">
        <p className="label">Instance URL</p>
        <div className="flex flex-wrap items-center gap-2 min-w-0">
          <code className="snippet flex-1 min-w-0" data-testid="secret-value" data-revealed={revealed}>
            {revealed ? url : maskUrl(url)}
          </code>
        </div>
        <div className="flex flex-wrap items-center gap-2 mt-2">
          <button
            type="button"
            className="btn"
            aria-pressed={revealed}
            onClick={() => setRevealed(!revealed)}
          >
            {revealed ? "Hide URL" : "Reveal URL"}
          </button>
          <CopyButton text={url} label="Copy instance URL" />
        </div>
      </div>
      <ClientSetup
        name={issued.serviceType === "custom" ? serviceName : issued.serviceType}
        url={url}
        masked={revealed ? undefined : maskUrl(url)}
      />
      <TestConnection url={url} />
      <div className="flex justify-end mt-4">
        <DialogClose asChild>
          <button type="button" className="btn btn-primary">
            Done
          </button>
        </DialogClose>
      </div>
    </Dialog>
  );
}
