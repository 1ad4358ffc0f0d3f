import * as RadixDialog from "@radix-ui/react-dialog";
import { type FormEvent, type ReactNode, useEffect, useRef } from "react";

interface Props {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description: ReactNode;
  children?: ReactNode;
  /** A dialog holding a secret shown once is not dismissed by a stray click outside it. */
  sticky?: boolean;
  /**
   * Moves focus to the result of the action when the dialog closes, instead of back to the element that opened
   * it; `back` returns focus to that element (for a close with nothing to show).
   */
  onClosed?: (back: () => void) => void;
  testId?: string;
}

/** Focus goes back where it came from, or (that element gone or disabled) to the page's heading. */
function returnFocus(opener: HTMLElement | null): void {
  // Something else took focus meanwhile (the next dialog, the heading of the page navigated to): it stays.
  const active = document.activeElement;
  if (active && active !== document.body && active.isConnected) return;
  const usable = opener?.isConnected && !opener.matches(":disabled") && !opener.closest("[inert]");
  const target = usable ? opener : document.querySelector<HTMLElement>("main h1");
  target?.focus();
}

/**
 * Radix's modal dialog (focus trap, Escape, aria-modal, the rest of the page hidden from assistive tech).
 * Its `Overlay` is left out on purpose: its scroll lock injects a <style> element, which the control
 * plane's CSP (style-src 'self') refuses; a plain backdrop element takes its place.
 *
 * The dialogs open from state, not from a Radix `Trigger`, so Radix has nowhere to return focus to: the element
 * focused when the dialog opened is kept here and focused again when it closes (unless `onClosed` moves focus
 * to the action's result), so focus never falls to <body>.
 */
export function Dialog({
  open,
  onOpenChange,
  title,
  description,
  children,
  sticky,
  onClosed,
  testId,
}: Props) {
  const opener = useRef<HTMLElement | null>(null);
  return (
    <RadixDialog.Root open={open} onOpenChange={onOpenChange}>
      <RadixDialog.Portal>
        <div className="dialog-backdrop" aria-hidden="true" />
        <RadixDialog.Content
          className="dialog"
          data-testid={testId}
          onPointerDownOutside={sticky ? (e) => e.preventDefault() : undefined}
          onInteractOutside={sticky ? (e) => e.preventDefault() : undefined}
          // Runs before Radix moves focus into the dialog: what has focus now is what opened it.
          onOpenAutoFocus={() => {
            const active = document.activeElement;
            opener.current = active instanceof HTMLElement && active !== document.body ? active : null;
          }}
          onCloseAutoFocus={(e) => {
            e.preventDefault();
            const back = opener.current;
            opener.current = null;
            if (onClosed) onClosed(() => returnFocus(back));
            else returnFocus(back);
          }}
        >
          <RadixDialog.Title className="text-lg font-semibold mb-1 wrap-anywhere">{title}</RadixDialog.Title>
          <RadixDialog.Description className="muted text-sm mb-3">{description}</RadixDialog.Description>
          {children}
        </RadixDialog.Content>
      </RadixDialog.Portal>
    </RadixDialog.Root>
  );
}

export const DialogClose = RadixDialog.Close;

interface ConfirmProps {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description: ReactNode;
  confirmLabel: string;
  pending?: boolean;
  error?: ReactNode;
  danger?: boolean;
  onConfirm: () => void;
  /** Moves focus to the action's result once the page closed the dialog (the action done). */
  onClosed?: () => void;
  children?: ReactNode;
}

/**
 * An in-app confirmation (never window.confirm): Cancel is focused first, the action says what it does. A form:
 * Enter in one of its fields confirms. Cancel, Escape or a click outside return focus to what opened it; when
 * the page closes it (the action done), `onClosed` moves focus to the result. While the action runs its button
 * keeps focus (marked busy, not disabled, which would drop focus to <body>); when it fails, focus moves to the
 * field in error, or else to the error.
 */
export function ConfirmDialog(p: ConfirmProps) {
  const dismissed = useRef(false);
  const body = useRef<HTMLDivElement>(null);
  const errorBox = useRef<HTMLDivElement>(null);
  const failed = Boolean(p.error);
  useEffect(() => {
    if (!failed) return;
    const field = body.current?.querySelector<HTMLElement>('[aria-invalid="true"]');
    (field ?? errorBox.current)?.focus();
  }, [failed]);

  function submit(e: FormEvent) {
    e.preventDefault();
    if (!p.pending) p.onConfirm();
  }

  return (
    <Dialog
      open={p.open}
      onOpenChange={(open) => {
        // Radix asks to close only when the user dismisses the dialog; the page closes it itself when done.
        if (!open) dismissed.current = true;
        p.onOpenChange(open);
      }}
      title={p.title}
      description={p.description}
      onClosed={(back) => {
        const byUser = dismissed.current;
        dismissed.current = false;
        if (byUser || !p.onClosed) back();
        else p.onClosed();
      }}
    >
      <form onSubmit={submit} noValidate>
        <div ref={body}>{p.children}</div>
        <div ref={errorBox} tabIndex={-1} className="outline-none">
          {p.error}
        </div>
        <div className="flex flex-wrap justify-end gap-2 mt-4">
          <DialogClose asChild>
            <button type="button" className="btn">
              Cancel
            </button>
          </DialogClose>
          <button
            type="submit"
            className={`btn ${p.danger ? "btn-danger-solid" : "btn-primary"}`}
            aria-disabled={p.pending ? true : undefined}
            aria-busy={p.pending ? true : undefined}
          >
            {p.pending ? "Working…" : p.confirmLabel}
          </button>
        </div>
      </form>
    </Dialog>
  );
}
