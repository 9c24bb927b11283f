import crypto from 'node:crypto';
import { Webhook } from 'standardwebhooks';

/**
 * Signatures per the Standard Webhooks specification, made by its maintained package: `v1,` +
 * base64 HMAC-SHA256 of `{id}.{timestamp}.{body}` keyed with the secret's bytes.
 */

/** `whsec_` + base64 of 32 random bytes. */
export function newWebhookSecret(): string {
  return `whsec_${crypto.randomBytes(32).toString('base64')}`;
}

const signers = new Map<string, Webhook>();

function signer(secret: string): Webhook {
  let webhook = signers.get(secret);
  if (!webhook) {
    if (signers.size > 1000) signers.clear();
    signers.set(secret, (webhook = new Webhook(secret)));
  }
  return webhook;
}

/** The webhook-signature header: one signature per secret, space-separated (two while a rotated secret still signs). */
export function signatureHeader(secrets: readonly string[], id: string, timestamp: Date, body: string): string {
  return secrets.map((s) => signer(s).sign(id, timestamp, body)).join(' ');
}

/** The secrets that sign now: the current one, and the previous one for 24 h after a rotation. */
export function signingSecrets(endpoint: { secret: string; previousSecret: string | null; previousSecretUntil: string | null }, nowIso: string): string[] {
  const previous = endpoint.previousSecret !== null && endpoint.previousSecretUntil !== null && endpoint.previousSecretUntil > nowIso;
  return previous ? [endpoint.secret, endpoint.previousSecret!] : [endpoint.secret];
}
