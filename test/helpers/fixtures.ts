import { expect } from 'chai';
import type { ApiContext } from './api';

/** Small builders over the API, so that tests read as the scenario they check. */

export async function createBunit(ctx: ApiContext, code: string, name = `${code} unit`): Promise<number> {
  const res = await ctx.post('/v1/bunits', { code, name });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body.id as number;
}

export async function createContract(
  ctx: ApiContext,
  bunitId: number,
  overrides: Record<string, unknown> = {},
): Promise<number> {
  const res = await ctx.post(`/v1/bunits/${bunitId}/contracts`, {
    number: `C-${Math.random().toString(36).slice(2, 10)}`,
    name: 'Fleet telematics',
    currency: 'EUR',
    startDate: '2026-01-01',
    ...overrides,
  });
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body.id as number;
}

export function referralBody(contractId: number, referrerId: number, overrides: Record<string, unknown> = {}) {
  return { contract: { id: contractId }, referrer: { id: referrerId }, percentage: '10', ...overrides };
}

export async function createReferral(
  ctx: ApiContext,
  ownerId: number,
  contractId: number,
  referrerId: number,
  overrides: Record<string, unknown> = {},
) {
  const res = await ctx.post(`/v1/bunits/${ownerId}/referrals`, referralBody(contractId, referrerId, overrides));
  expect(res.status, JSON.stringify(res.body)).to.equal(201);
  return res.body as { id: number; [k: string]: unknown };
}

/** An owner with one EUR contract and two other business units that can refer it. */
export async function world(ctx: ApiContext) {
  const owner = await createBunit(ctx, 'OWNER');
  const alice = await createBunit(ctx, 'ALICE');
  const bob = await createBunit(ctx, 'BOB');
  const contract = await createContract(ctx, owner, { number: 'C-1' });
  return { owner, alice, bob, contract };
}

export function expectProblem(res: { status: number; body: unknown; headers: Record<string, string> }, status: number, code: string) {
  expect(res.status, JSON.stringify(res.body)).to.equal(status);
  expect(res.headers['content-type']).to.match(/^application\/problem\+json/);
  expect((res.body as { code: string }).code).to.equal(code);
}
