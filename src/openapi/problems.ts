import { PROBLEM_TYPE_BASE } from '../http/problem';

/**
 * The stable problem codes of SPEC §9, with what each means to the reader of the API docs (a
 * finance engineer wiring a billing system to this service) and a realistic example. The OpenAPI
 * document lists, per operation and status, exactly the codes that operation can answer with.
 */
export type ProblemCode =
  | 'validation-failed'
  | 'malformed-json'
  | 'unauthenticated'
  | 'forbidden'
  | 'not-found'
  | 'immutable-relation'
  | 'overlapping-referral'
  | 'over-allocated'
  | 'start-date-locked'
  | 'settled-period-locked'
  | 'archived'
  | 'already-settled'
  | 'duplicate-external-id'
  | 'duplicate-code'
  | 'duplicate-contract-number'
  | 'idempotency-key-in-use'
  | 'run-in-progress'
  | 'change-pending'
  | 'not-pending'
  | 'line-disputed'
  | 'not-open'
  | 'period-closed'
  | 'four-eyes'
  | 'period-not-ready'
  | 'duplicate-reference'
  | 'already-posted'
  | 'overpayment'
  | 'method-not-allowed'
  | 'not-acceptable'
  | 'precondition-failed'
  | 'payload-too-large'
  | 'unsupported-media-type'
  | 'invalid-reference'
  | 'self-referral'
  | 'idempotency-key-mismatch'
  | 'invalid-webhook-url'
  | 'correction-required'
  | 'rate-limited'
  | 'internal'
  | 'unavailable';

export interface ProblemDoc {
  status: number;
  title: string;
  /** What the code means and what to do about it. */
  meaning: string;
  example: { detail: string; errors?: { path: string; message: string }[] };
}

export const PROBLEMS: Record<ProblemCode, ProblemDoc> = {
  'validation-failed': {
    status: 400,
    title: 'Validation failed',
    meaning:
      'A parameter, header or body field is invalid: a missing or unknown field, a date that is not a real calendar date, a decimal with more places than allowed (never rounded), a range that ends before it starts. `errors` lists every invalid field, not just the first; fix them and send again.',
    example: {
      detail: 'The request has 2 invalid fields.',
      errors: [
        { path: 'body.percentage', message: 'must have at most 4 decimal places' },
        { path: 'body.billingEndDate', message: 'must be a real calendar date in the form yyyy-MM-dd' },
      ],
    },
  },
  'malformed-json': {
    status: 400,
    title: 'Malformed JSON',
    meaning: 'The body is not valid JSON. Nothing was read from it.',
    example: { detail: "The request body is not valid JSON: Object key expected but got ',' at position 27." },
  },
  unauthenticated: {
    status: 401,
    title: 'Unauthenticated',
    meaning: 'No API key was sent, or the key is unknown or revoked. Send `Authorization: Bearer <key>`.',
    example: { detail: 'A valid API key is required: Authorization: Bearer <key>.' },
  },
  forbidden: {
    status: 403,
    title: 'Forbidden',
    meaning:
      'The API key may not do this: its role is too low (`read` keys only read; business units, settlement runs, keys and webhook endpoints need `admin`), the business unit in the path is outside the key’s scope, or the business unit is the referrer of a referral rather than the owner of its contract (only the owner may change a referral).',
    example: { detail: 'This key may not act for business unit 7.' },
  },
  'not-found': {
    status: 404,
    title: 'Not found',
    meaning:
      'Nothing with this id exists under this business unit. A resource that exists under another business unit is also reported as not found here.',
    example: { detail: 'Contract 42 does not exist under business unit 3.' },
  },
  'immutable-relation': {
    status: 409,
    title: 'Conflict',
    meaning:
      'The change would move something that never moves: a referral’s contract or referrer, a contract’s currency or owning business unit. Create a new object instead.',
    example: { detail: 'Referral 17 is for contract 42 and referrer 3; relations cannot change.' },
  },
  'overlapping-referral': {
    status: 409,
    title: 'Conflict',
    meaning:
      'The referrer already holds a referral of this contract whose billing window overlaps the requested one (R4): one referrer cannot earn twice on the same day. End the existing referral first, or start the new one after it.',
    example: {
      detail:
        'Referral 12 already refers contract 42 for business unit 3 in an overlapping billing window (2026-10-01 to open end).',
    },
  },
  'over-allocated': {
    status: 409,
    title: 'Conflict',
    meaning:
      'On some day the percentages of the contract’s billable referrals would add up to more than 100 (R5). `detail` names the first such day and the sum.',
    example: { detail: 'On 2026-11-01 the referrals of contract 42 would sum to 112.5 %, more than 100 %.' },
  },
  'start-date-locked': {
    status: 409,
    title: 'Conflict',
    meaning:
      '`billingStartDate` can change only while both the stored and the new date lie after today (R7): once a referral has started, days already billable stay billable.',
    example: {
      detail:
        'billingStartDate can change only while both the stored (2026-11-01) and the new value (2026-12-01) are after today (2026-11-23).',
    },
  },
  'settled-period-locked': {
    status: 409,
    title: 'Conflict',
    meaning:
      '`billingEndDate` would end the referral before a day that a settlement run has already paid out (R9). Settled statements never change; end it on or after the last settled day.',
    example: { detail: 'Referral 17 is settled through 2026-10-31; billingEndDate cannot move before that day.' },
  },
  archived: {
    status: 409,
    title: 'Conflict',
    meaning: 'The object is archived and read-only (it stays readable).',
    example: { detail: 'Referral 17 was archived on 2026-11-01T00:00:00.000Z and is read-only.' },
  },
  'already-settled': {
    status: 409,
    title: 'Conflict',
    meaning:
      'A settlement run has already shared out this revenue line, so it cannot be deleted. Book a correcting line with a negative amount instead; the next run settles it.',
    example: { detail: 'Revenue line 901 is settled and cannot be deleted; book a correcting (negative) line instead.' },
  },
  'duplicate-external-id': {
    status: 409,
    title: 'Conflict',
    meaning:
      'A line of the request reuses an `externalId` that already exists on the contract with different content. Nothing of the request was written. (A line resent with identical content is not an error: it is reported as existing.)',
    example: {
      detail:
        'These externalIds already exist on contract 42 with different content: INV-2026-10-0042/1. Nothing was written.',
    },
  },
  'duplicate-code': {
    status: 409,
    title: 'Conflict',
    meaning: 'Another business unit already has this `code`.',
    example: { detail: 'A business unit with code NORDICS already exists.' },
  },
  'duplicate-contract-number': {
    status: 409,
    title: 'Conflict',
    meaning: 'The business unit already has a contract with this `number`.',
    example: { detail: 'This business unit already has a contract numbered C-2026-001.' },
  },
  'idempotency-key-in-use': {
    status: 409,
    title: 'Conflict',
    meaning:
      'A request with the same `Idempotency-Key` is still being processed. Wait and retry with the same key: you will get its answer.',
    example: { detail: 'A request with Idempotency-Key 4f7c2a10-ingest-2026-10 is still being processed; retry later.' },
  },
  'run-in-progress': {
    status: 409,
    title: 'Conflict',
    meaning:
      'Another settlement run is running and its holder is alive: one run at a time. Wait until it has completed (GET /v1/settlement-runs shows its progress) and settle again; a run whose holder died is resumed by the next settle instead. For a run’s statements: the run has not completed yet.',
    example: { detail: 'Settlement run 13 (through 2026-11-30) is running: 212 of 480 partitions done. Try again once it has completed.' },
  },
  'change-pending': {
    status: 409,
    title: 'Conflict',
    meaning:
      'The referral waits for a change request already (its `pendingChange`): one pending request per referral. Have it decided or withdrawn, then ask again.',
    example: { detail: 'Referral 17 waits for change request 31 (update); it must be decided or withdrawn first: one pending request per referral.' },
  },
  'not-pending': {
    status: 409,
    title: 'Conflict',
    meaning: 'The change request was approved, denied or withdrawn already (perhaps by another key a moment ago): it can no longer be decided.',
    example: { detail: 'Change request 31 is approved, no longer pending.' },
  },
  'line-disputed': {
    status: 409,
    title: 'Conflict',
    meaning:
      'A line named is in an open dispute already (a line is in one open dispute at most, SPEC §15). The detail names the lines and their disputes; nothing was disputed. Dispute the other lines, or wait for that dispute to end.',
    example: { detail: '1 of the lines named are in an open dispute already: line 5004 (dispute 7). A line is in one open dispute at most; nothing was disputed.' },
  },
  'not-open': {
    status: 409,
    title: 'Conflict',
    meaning: 'The dispute was resolved or withdrawn already (perhaps by another key a moment ago): it can no longer be resolved or withdrawn.',
    example: { detail: 'Dispute 7 is upheld, no longer open.' },
  },
  'period-closed': {
    status: 409,
    title: 'Conflict',
    meaning:
      'The period (month) is closed, or its close is under way: its statements are final, netted and booked, and nothing may change them. A settlement run through a day of it, and an acceptance or dispute of its statements (their status is `closed`), are refused. A later correction goes into an open period (an adjustment, §12, or a credit note).',
    example: { detail: 'Period 2026-10 is closed: no run may settle through 2026-10-31.' },
  },
  'period-not-ready': {
    status: 409,
    title: 'Period not ready',
    meaning:
      'The period cannot be closed yet; `errors` names everything that stands in the way: its last day is not before today, an earlier period with statements, or with lines released in it, is still open, a settlement run through a day of it is running, or statements of it are still `issued` (accept them first). Nothing was written; close again once they are out of the way.',
    example: {
      detail: 'Period 2026-11 cannot be closed yet: the earlier period 2026-10 is still open; 2 statements are still issued (not accepted): 88, 89.',
      errors: [
        { path: 'period', message: 'the earlier period 2026-10 is still open' },
        { path: 'period', message: '2 statements are still issued (not accepted): 88, 89' },
      ],
    },
  },
  'duplicate-reference': {
    status: 409,
    title: 'Conflict',
    meaning:
      'The netting has a payment with this `reference` already, with another amount or date. (The same reference with the same amount and date is not an error: it answers 200 with the payment recorded before.)',
    example: { detail: 'Netting 31 has a payment with reference PAY-2026-11-0042 already (100.00 paid 2026-11-05), different from this one.' },
  },
  'already-posted': {
    status: 409,
    title: 'Conflict',
    meaning: 'The journal was acknowledged already, with another `externalId`. (The same externalId again answers 200, unchanged.)',
    example: { detail: 'Journal 61 was posted already, as ERP-JE-2026-004711 (2026-11-02T08:15:00.000Z).' },
  },
  overpayment: {
    status: 422,
    title: 'Overpayment',
    meaning: 'The payments of a netting would add up to more than its `amount`. Nothing was recorded.',
    example: {
      detail: 'A payment of 200.00 EUR would bring netting 31 to more than its amount (129.44, of which 100.00 paid).',
      errors: [{ path: 'body.amount', message: 'must be at most 29.44' }],
    },
  },
  'four-eyes': {
    status: 403,
    title: 'Forbidden',
    meaning:
      'A key cannot decide a change request it asked for itself, nor resolve a dispute it raised: another approver (or admin) key must (for a dispute, one of the other party).',
    example: { detail: 'Change request 31 was asked for by this key; another key must decide it.' },
  },
  'method-not-allowed': {
    status: 405,
    title: 'Method not allowed',
    meaning:
      'The path exists, but not with this method (a PATCH, an OPTIONS, a PUT on a list). The `Allow` header lists the methods it serves; GET implies HEAD.',
    example: { detail: 'PATCH is not served on /v1/bunits/{bunitId}; it serves GET, HEAD, PUT, DELETE.' },
  },
  'not-acceptable': {
    status: 406,
    title: 'Not acceptable',
    meaning:
      'The `Accept` header names no media type this operation answers with: `application/json` or `text/json` (statements also `text/csv`). Send `Accept: application/json`, `*/*` or no Accept at all. Problems such as this one are `application/problem+json` (`text/json` for a client that prefers it).',
    example: { detail: 'This operation answers application/json or text/csv, which the Accept header (application/xml) does not name.' },
  },
  'precondition-failed': {
    status: 412,
    title: 'Precondition failed',
    meaning:
      '`If-Match` does not match the current `ETag`: someone changed the object since you read it. Read it again, reapply your change, and send the new ETag.',
    example: {
      detail: 'If-Match "referral-17-v3.1.1" does not match the current version "referral-17-v4.1.1"; read the resource again.',
    },
  },
  'payload-too-large': {
    status: 413,
    title: 'Payload too large',
    meaning: 'The body is larger than 1 MB. Split revenue into several requests of at most 1000 lines.',
    example: { detail: 'The request body exceeds the limit of 1mb.' },
  },
  'unsupported-media-type': {
    status: 415,
    title: 'Unsupported media type',
    meaning: 'Bodies must be UTF-8 JSON sent as `Content-Type: application/json` (or `text/json`).',
    example: { detail: 'Request bodies must be application/json (or text/json), not text/plain.' },
  },
  'invalid-reference': {
    status: 422,
    title: 'Unprocessable request',
    meaning:
      'The body names something that cannot be used: a contract that is not an active contract of the business unit in the path (R1), a referrer that does not exist or is archived (R2), a business unit that does not exist, or a statement line that is not a line of the statement disputed (SPEC §15). `errors` points at the field.',
    example: {
      detail: 'Contract 42 is not an active contract of business unit 3.',
      errors: [{ path: 'body.contract.id', message: 'must name an active contract of the business unit in the path' }],
    },
  },
  'correction-required': {
    status: 422,
    title: 'Unprocessable request',
    meaning:
      'An upheld dispute must name the correction that fixes its lines, and it must fit them (SPEC §15): `changeRequestId`, an amendment (§12), pending or approved, of a referral of the disputed lines, or `revenueLineId`, a revenue line with a negative amount on a contract of the disputed lines, either created after the dispute was opened. `errors` says what does not fit. Nothing was resolved.',
    example: {
      detail: 'The correction named does not fix the lines of dispute 7: revenue line 977 is on contract 43, which none of the disputed lines is on.',
      errors: [{ path: 'body.revenueLineId', message: 'revenue line 977 is on contract 43, which none of the disputed lines is on' }],
    },
  },
  'self-referral': {
    status: 422,
    title: 'Unprocessable request',
    meaning: 'The referrer is the business unit that owns the contract: a unit cannot earn a share of its own revenue (R2).',
    example: {
      detail: 'Business unit 1 owns contract 42 and cannot refer it.',
      errors: [{ path: 'body.referrer.id', message: 'must not be the owner of the contract' }],
    },
  },
  'invalid-webhook-url': {
    status: 422,
    title: 'Unprocessable request',
    meaning:
      'The webhook URL may not be sent to: it is not `https` (`http` needs WEBHOOK_ALLOW_HTTP=true on the service), carries a user name or password, or its host does not resolve or resolves to a loopback, private, link-local or cloud metadata address (IPv4 or IPv6, IPv4-mapped included; allowed only with WEBHOOK_ALLOW_PRIVATE=true). Use a public https URL of the receiver.',
    example: {
      detail: 'https://169.254.169.254/latest/meta-data cannot receive webhooks: 169.254.169.254 is a link-local address.',
      errors: [{ path: 'body.url', message: 'must be a public https URL' }],
    },
  },
  'idempotency-key-mismatch': {
    status: 422,
    title: 'Unprocessable request',
    meaning:
      'This `Idempotency-Key` was used in the last 24 hours, by the same API key on the same method and path, with a different body. Use a new key for a new request.',
    example: { detail: 'Idempotency-Key 4f7c2a10-ingest-2026-10 was used with a different request body within the last 24 hours.' },
  },
  'rate-limited': {
    status: 429,
    title: 'Too many requests',
    meaning: 'This API key sent more requests this minute than the service allows. Wait the seconds given in `Retry-After`.',
    example: { detail: 'Rate limit exceeded; retry after 12 s.' },
  },
  internal: {
    status: 500,
    title: 'Internal error',
    meaning:
      'An unexpected error; nothing was changed. The body carries no technical detail: quote `requestId` (also the `X-Request-Id` header) when you report it.',
    example: { detail: 'An unexpected error occurred. Quote the request id when you report it.' },
  },
  unavailable: {
    status: 503,
    title: 'Service unavailable',
    meaning:
      'The database could not be reached, or stayed locked by other work longer than this service waits for it; nothing was changed. Send the same request again after the seconds given in `Retry-After` (with the same `Idempotency-Key`, a POST is safe to repeat).',
    example: { detail: 'The database cannot be reached right now; nothing was changed. Retry after 5 s.' },
  },
};

/** The heading of a problem response, per status. */
export const STATUS_TITLES: Record<number, string> = {
  400: 'Bad request',
  401: 'Unauthenticated',
  403: 'Forbidden',
  404: 'Not found',
  405: 'Method not allowed',
  406: 'Not acceptable',
  409: 'Conflict with the stored data',
  412: 'Precondition failed',
  413: 'Payload too large',
  415: 'Unsupported media type',
  422: 'Unprocessable request',
  429: 'Too many requests',
  500: 'Internal error',
  503: 'Service unavailable',
};

export function problemExample(code: ProblemCode) {
  const doc = PROBLEMS[code];
  return {
    type: `${PROBLEM_TYPE_BASE}${code}`,
    title: doc.title,
    status: doc.status,
    detail: doc.example.detail,
    code,
    requestId: '5b0e7d1c-2f4a-4a57-9d8e-0c6c1f2b9a31',
    ...(doc.example.errors ? { errors: doc.example.errors } : {}),
  };
}
