import * as RadixDialog from "@radix-ui/react-dialog";
import type { ReactNode } from "react";

interface Props {
  open: boolean;
  onOpenChange: (open: boolean) => void;
  title: string;
  description: ReactNode;
  children?: ReactNode;
  /** A dialog holding a secret shown once is not dismissed by a stray click outside it. */
  sticky?: boolean;
  /** Where focus goes when the dialog closes (the result of the action), instead of the trigger. */
  onClosed?: () => void;
  testId?: string;
}

/**
 * Radix's modal dialog (focus trap, Escape, aria-modal, the rest of the page hidden from assistive tech).
 * Its `Overlay` is left out on purpose: its scroll lock injects a <style> element, which the control
 * plane's CSP (style-src 'self') refuses; a plain backdrop element takes its place.
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
  return (
    <RadixDialog.Root open={open} onOpenChange={onOpenChange}>
      <RadixDialog.Portal>
        <div className="dialog-backdrop" aria-hidden="true" />
        <RadixDialog.Content
          className="dialog"
          data-testid={testId}
          onPointerDownOutside={sticky ? (e) => e.preventDefault() : undefined}
          onInteractOutside={sticky ? (e) => e.preventDefault() : undefined}
          onCloseAutoFocus={
            onClosed
              ? (e) => {
                  e.preventDefault();
                  onClosed();
                }
              : undefined
          }
        >
          <RadixDialog.Title className="text-lg font-semibold mb-1">{title}</RadixDialog.Title>
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
  onClosed?: () => void;
  children?: ReactNode;
}

/** An in-app confirmation (never window.confirm): Cancel is focused first, the action says what it does. */
export function ConfirmDialog(p: ConfirmProps) {
  return (
    <Dialog
      open={p.open}
      onOpenChange={p.onOpenChange}
      title={p.title}
      description={p.description}
      onClosed={p.onClosed}
    >
      {p.children}
      {p.error}
      <div className="flex flex-wrap justify-end gap-2 mt-4">
        <DialogClose asChild>
          <button type="button" className="btn">
            Cancel
          </button>
        </DialogClose>
        <button
          type="button"
          className={`btn ${p.danger ? "btn-danger-solid" : "btn-primary"}`}
          disabled={p.pending}
          onClick={p.onConfirm}
        >
          {p.pending ? "Working…" : p.confirmLabel}
        </button>
      </div>
    </Dialog>
  );
}
