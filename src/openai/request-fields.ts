/**
 * The pieces every request schema shares (`requests.ts`, `form-request.ts`): a model name, and
 * a zod failure as the caller's 400, naming the field.
 */
import * as z from 'zod';
import { formatIssues } from '../config/load';
import { RouterError } from '../errors/router-error';

export const Model = z.string().min(1);

export function invalid(error: z.ZodError): RouterError {
  const first = error.issues[0];
  return new RouterError(400, `Invalid request: ${formatIssues(error)}`, {
    code: 'invalid_request',
    param: first?.path.map(String).join('.') || null,
  });
}
