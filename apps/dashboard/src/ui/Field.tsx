import type { ChangeEvent, InputHTMLAttributes, ReactNode, SelectHTMLAttributes } from "react";

type InputProps = Omit<
  InputHTMLAttributes<HTMLInputElement>,
  "id" | "onChange" | "aria-describedby" | "aria-invalid"
>;

/**
 * A labelled text input, the one way the dashboard's forms ask for a value: the label names it, a hint (when
 * given) sits below it with its own id, and while `invalid` the input is marked so and described by the
 * form's error (`errorId`, rendered by the form where its message belongs). Controlled (`value` and
 * `onValue`), or left to a form that reads it by `name` (`defaultValue`).
 */
export function TextField({
  id,
  label,
  hint,
  invalid,
  errorId,
  onValue,
  ...input
}: InputProps & {
  id: string;
  label: ReactNode;
  hint?: ReactNode;
  invalid?: boolean;
  /** The element that says what went wrong: described by while it is shown. */
  errorId?: string;
  onValue?(value: string): void;
}) {
  const hintId = hint ? `${id}-hint` : undefined;
  const describedBy = [hintId, errorId].filter(Boolean).join(" ") || undefined;
  return (
    <Labelled id={id} label={label}>
      <input
        id={id}
        className="input"
        {...input}
        aria-invalid={invalid ? true : undefined}
        aria-describedby={describedBy}
        {...(onValue && { onChange: (e: ChangeEvent<HTMLInputElement>) => onValue(e.target.value) })}
      />
      {hint && (
        <p id={hintId} className="muted text-xs mt-1">
          {hint}
        </p>
      )}
    </Labelled>
  );
}

type SelectProps = Omit<SelectHTMLAttributes<HTMLSelectElement>, "id" | "onChange" | "children">;

/**
 * A labelled choice among `options` (`[value, text]`): controlled (`value` and `onValue`), or left to a form
 * that reads it by `name` (`defaultValue`).
 */
export function SelectField({
  id,
  label,
  options,
  onValue,
  ...select
}: SelectProps & {
  id: string;
  label: ReactNode;
  options: readonly (readonly [value: string, text: string])[];
  onValue?(value: string): void;
}) {
  return (
    <Labelled id={id} label={label}>
      <select
        id={id}
        className="input"
        {...select}
        {...(onValue && { onChange: (e: ChangeEvent<HTMLSelectElement>) => onValue(e.target.value) })}
      >
        {options.map(([value, text]) => (
          <option key={value} value={value}>
            {text}
          </option>
        ))}
      </select>
    </Labelled>
  );
}

/** A field's label above it (and whatever goes with the field). */
function Labelled({ id, label, children }: { id: string; label: ReactNode; children: ReactNode }) {
  return (
    <div>
      <label className="label" htmlFor={id}>
        {label}
      </label>
      {children}
    </div>
  );
}
