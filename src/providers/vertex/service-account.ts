/**
 * Google service-account key files (the JSON `gcloud iam service-accounts keys create`
 * writes), validated with zod. Only what minting a token needs is read; a malformed key
 * gives a reason that names the field, never its value.
 */
import * as z from 'zod';

export const ServiceAccount = z.looseObject({
  type: z.literal('service_account'),
  project_id: z.string().min(1).optional(),
  private_key_id: z.string().min(1),
  private_key: z.string().includes('-----BEGIN PRIVATE KEY-----'),
  client_email: z.string().min(3).includes('@'),
  token_uri: z.url().default('https://oauth2.googleapis.com/token'),
});
export type ServiceAccount = z.infer<typeof ServiceAccount>;

export function parseServiceAccount(text: string | undefined): { ok: true; value: ServiceAccount } | { ok: false; reason: string } {
  if (!text) return { ok: false, reason: 'service account secret is not set' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { ok: false, reason: 'service account secret is not JSON' };
  }
  const parsed = ServiceAccount.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    return { ok: false, reason: `service account JSON: invalid ${issue?.path.join('.') || 'document'}` };
  }
  if (!/^https:\/\//.test(parsed.data.token_uri) && !/^http:\/\/(127\.0\.0\.1|localhost)[:/]/.test(parsed.data.token_uri))
    return { ok: false, reason: 'service account JSON: token_uri must be https' };
  return { ok: true, value: parsed.data };
}
