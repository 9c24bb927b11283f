import { ApiError, conflict, forbidden, notFound, validationFailed } from '../domain/errors';
import { currencyDigits } from '../domain/currency';
import { writtenScale } from '../domain/decimal';
import { entriesOf, journalTotals, paymentPostings } from '../domain/journal';
import { nettingStatus, periodOf } from '../domain/netting';
import { accountsOf, findJournal, insertJournal } from '../repositories/journal.repository';
import {
  findNetting,
  findPayment,
  insertPayment,
  listNettings,
  lockNetting,
  nettingsOfPeriod,
  paymentsOf,
  type NettingRecord,
  type PaymentRecord,
} from '../repositories/netting.repository';
import { formatMinor } from '../domain/settlement-math';
import { presentJournal, presentNetting } from '../representations/period';
import type { Page } from '../repositories/paging';
import type { NettingListQuery, PaymentCreate } from '../schemas/period';
import type { Knex } from 'knex';
import type { Actor, ServiceContext } from './context';
import { withUnitOfWork, type EventDraft } from './unit-of-work';

/**
 * Nettings as both parties read them, and their payments (SPEC §16). A payment is append-only;
 * the netting's paid amount and status follow from its payments. Each payment writes a payment
 * journal for the payer and one for the payee in its transaction.
 */
export class NettingService {
  constructor(private readonly ctx: ServiceContext) {}

  async ofPeriod(period: string, page: Page) {
    return listNettings(this.ctx.db, { period }, page);
  }

  list(bunitId: number, query: NettingListQuery) {
    return listNettings(this.ctx.db, { bunitId, period: query.period, status: query.status }, query);
  }

  /** A netting of a closed period, seen by either party. */
  async get(bunitId: number, id: number, db: Knex = this.ctx.db): Promise<NettingRecord> {
    const netting = await findNetting(db, id);
    if (!netting || (netting.a.id !== bunitId && netting.b.id !== bunitId)) {
      throw notFound(`Netting ${id} does not exist under business unit ${bunitId}.`);
    }
    return netting;
  }

  async payments(bunitId: number, id: number): Promise<{ netting: NettingRecord; payments: PaymentRecord[] }> {
    const netting = await this.get(bunitId, id);
    return { netting, payments: await paymentsOf(this.ctx.db, id) };
  }

  /**
   * Records a payment of the netting by its payer. The same reference again: with the same amount
   * and date, the payment recorded before (created: false); with anything else, 409
   * duplicate-reference. More than the netting's amount in all: 422 overpayment.
   */
  async pay(bunitId: number, nettingId: number, input: PaymentCreate, actor: Actor): Promise<{ payment: PaymentRecord; netting: NettingRecord; created: boolean }> {
    return withUnitOfWork(this.ctx, actor, async (uow) => {
      const { trx } = uow;
      await lockNetting(trx, nettingId);
      const netting = await this.get(bunitId, nettingId, trx);
      const digits = currencyDigits(netting.currency);
      if (writtenScale(input.amount.toFixed()) > digits) {
        throw validationFailed([{ path: 'body.amount', message: `must have at most ${digits} decimal places (${netting.currency})` }]);
      }
      const amountMinor = BigInt(input.amount.times(10 ** digits).toFixed(0));
      const payments = await paymentsOf(trx, nettingId);
      const same = payments.find((p) => p.reference === input.reference);
      if (same) {
        if (same.amountMinor === amountMinor && same.paidDate === input.paidDate) return { payment: same, netting, created: false };
        throw conflict(
          'duplicate-reference',
          `Netting ${nettingId} has a payment with reference ${input.reference} already (${formatMinor(same.amountMinor, digits)} paid ${same.paidDate}), different from this one.`,
        );
      }
      if (netting.payerId !== bunitId) {
        if (netting.payerId === null) throw overpayment(netting, amountMinor, digits);
        throw forbidden(`Business unit ${bunitId} is the payee of netting ${nettingId}; only its payer (business unit ${netting.payerId}) records payments.`);
      }
      const paid = payments.reduce((s, p) => s + p.amountMinor, 0n);
      if (paid + amountMinor > netting.amountMinor) throw overpayment(netting, amountMinor, digits);
      const paymentId = await insertPayment(trx, {
        nettingId,
        amountMinor,
        paidDate: input.paidDate,
        reference: input.reference,
        recordedBy: actor.name,
        recordedByKeyId: actor.keyId,
        createdAt: uow.nowIso,
      });
      const payerId = netting.payerId;
      const payeeId = netting.payeeId!;
      const accounts = await accountsOf(trx, [payerId, payeeId]);
      const postings = paymentPostings(amountMinor);
      const journalIds: { id: number; bunitId: number }[] = [];
      for (const [unit, partner, own] of [
        [payerId, payeeId, postings.payer],
        [payeeId, payerId, postings.payee],
      ] as const) {
        const entries = entriesOf(own, accounts.get(unit)!, partner, nettingId);
        const id = await insertJournal(trx, {
          bunitId: unit,
          kind: 'payment',
          period: periodOf(input.paidDate),
          currency: netting.currency,
          date: input.paidDate,
          paymentId,
          entries,
          totalMinor: journalTotals(entries).debit,
          createdAt: uow.nowIso,
        });
        journalIds.push({ id: id!, bunitId: unit });
      }
      const nowPaid = paid + amountMinor;
      const events: EventDraft[] = journalIds.map((j) => ({
        type: 'journal.created',
        bunitIds: [j.bunitId],
        data: async (u) => presentJournal((await findJournal(u.trx, j.id))!),
      }));
      if (nettingStatus(netting.amountMinor, nowPaid) === 'paid') {
        events.push({ type: 'netting.paid', bunitIds: [netting.a.id, netting.b.id], data: async (u) => presentNetting((await findNetting(u.trx, nettingId))!) });
      }
      uow.record({
        entity: 'netting',
        id: nettingId,
        action: 'payment',
        changes: [
          { field: 'payment', from: null, to: { id: paymentId, amount: formatMinor(amountMinor, digits), paidDate: input.paidDate, reference: input.reference } },
          { field: 'paidAmount', from: formatMinor(paid, digits), to: formatMinor(nowPaid, digits) },
        ],
        events,
      });
      return { payment: (await findPayment(trx, paymentId))!, netting: await this.get(bunitId, nettingId, trx), created: true };
    });
  }

  /** The nettings a close wrote, for the close command's summary. */
  nettingsOf(period: string) {
    return nettingsOfPeriod(this.ctx.db, period);
  }
}

function overpayment(netting: NettingRecord, amountMinor: bigint, digits: number): ApiError {
  return new ApiError(
    422,
    'overpayment',
    'Overpayment',
    `A payment of ${formatMinor(amountMinor, digits)} ${netting.currency} would bring netting ${netting.id} to more than its amount (${formatMinor(netting.amountMinor, digits)}, of which ${formatMinor(netting.paidMinor, digits)} paid).`,
    [{ path: 'body.amount', message: `must be at most ${formatMinor(netting.amountMinor - netting.paidMinor, digits)}` }],
  );
}
