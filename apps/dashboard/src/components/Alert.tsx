/** An error message that assistive technology announces as soon as it appears. */
export function Alert({ children }: { children: string }) {
  return (
    <p role="alert" className="alert">
      {children}
    </p>
  );
}
