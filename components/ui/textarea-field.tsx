"use client";
// A labelled <textarea> with the same hint / error wiring as TextField.
import { forwardRef, useId, type ReactNode, type TextareaHTMLAttributes } from "react";
import { FieldShell, multilineControlClasses } from "@/components/ui/field";

export interface TextAreaFieldProps extends Omit<TextareaHTMLAttributes<HTMLTextAreaElement>, "id"> {
  label: ReactNode;
  hint?: ReactNode;
  error?: ReactNode;
  fieldClassName?: string;
}

export const TextAreaField = forwardRef<HTMLTextAreaElement, TextAreaFieldProps>(function TextAreaField(
  { label, hint, error, fieldClassName, className, rows = 4, ...props },
  ref,
) {
  const id = useId();
  return (
    <FieldShell id={id} label={label} hint={hint} error={error} className={fieldClassName}>
      <textarea
        ref={ref}
        id={id}
        rows={rows}
        aria-invalid={error ? true : undefined}
        aria-describedby={error ? `${id}-error` : hint ? `${id}-hint` : undefined}
        className={multilineControlClasses(className)}
        {...props}
      />
    </FieldShell>
  );
});
