import { useState } from "react";
import type { z } from "zod";

export type FieldErrors = Record<string, string | undefined>;

/** First message per top-level field, the shape forms display. */
export function fieldErrors(error: z.ZodError): FieldErrors {
  const out: FieldErrors = {};
  for (const issue of error.issues) {
    const key = String(issue.path[0] ?? "form");
    out[key] ??= issue.message;
  }
  return out;
}

export function formDataObject(form: FormData | HTMLFormElement): Record<string, string> {
  const data = form instanceof FormData ? form : new FormData(form);
  const out: Record<string, string> = {};
  for (const [key, value] of data.entries()) if (typeof value === "string") out[key] = value;
  return out;
}

/**
 * Client-side validation with the same zod schema the server uses: invalid
 * input never leaves the browser, and the server checks it again anyway.
 */
export function useSchemaValidation<T extends z.ZodType>(schema: T) {
  const [errors, setErrors] = useState<FieldErrors>({});
  return {
    errors,
    clear: (name: string) => setErrors((current) => ({ ...current, [name]: undefined })),
    onSubmit: (event: React.FormEvent<HTMLFormElement>) => {
      const result = schema.safeParse(formDataObject(event.currentTarget));
      if (!result.success) {
        event.preventDefault();
        setErrors(fieldErrors(result.error));
      } else setErrors({});
    },
  };
}
