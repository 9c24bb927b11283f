import type { Knex } from 'knex';
import { BusinessCalendar, systemClock } from '../src/clock';
import { addDays } from '../src/domain/dates';
import { Dec } from '../src/domain/decimal';
import { createServices } from '../src/services';
import { systemActor } from '../src/services/unit-of-work';

/**
 * Demo data for a first look, created through the services so that every rule holds:
 * a headquarters that owns contracts, and three units that referred its customers.
 */
export async function seed(db: Knex, timeZone = 'UTC'): Promise<void> {
  const services = createServices({ db, calendar: new BusinessCalendar(systemClock, timeZone) });
  const actor = systemActor('demo seed');
  const today = services.ctx.calendar.today();
  const monthAgo = addDays(today, -30);

  const hq = await services.bunits.create({ code: 'HQ', name: 'Headquarters Sales' }, actor);
  const nordics = await services.bunits.create({ code: 'NORDICS', name: 'Nordic Sales' }, actor);
  const dach = await services.bunits.create({ code: 'DACH', name: 'DACH Partners' }, actor);
  const japan = await services.bunits.create({ code: 'JAPAN', name: 'Japan Office' }, actor);

  const fleet = await services.contracts.create(hq.id, {
    number: 'C-2026-001',
    name: 'Fleet telematics, 3 years',
    customer: 'Acme Logistics AS',
    currency: 'EUR',
    startDate: monthAgo,
    endDate: null,
  }, actor);
  const cloud = await services.contracts.create(hq.id, {
    number: 'C-2026-002',
    name: 'Cloud hosting',
    customer: 'Globex GmbH',
    currency: 'EUR',
    startDate: monthAgo,
    endDate: null,
  }, actor);
  const tokyo = await services.contracts.create(hq.id, {
    number: 'C-2026-003',
    name: 'Support desk',
    customer: 'Initech KK',
    currency: 'JPY',
    startDate: monthAgo,
    endDate: null,
  }, actor);

  const ref = (contractId: number, referrerId: number, percentage: string, start: string, end: string | null = null) =>
    services.referrals.create(hq.id, {
      contract: { id: contractId },
      referrer: { id: referrerId },
      percentage: new Dec(percentage),
      billingStartDate: start,
      billingEndDate: end,
    }, actor);
  await ref(fleet.id, nordics.id, '12.5', monthAgo, addDays(monthAgo, 364));
  await ref(fleet.id, dach.id, '10', monthAgo);
  await ref(cloud.id, dach.id, '7.25', today);
  await ref(tokyo.id, japan.id, '15', monthAgo);

  // Revenue of the last month, so that `npm run settle` has something to settle.
  const yesterday = addDays(today, -1);
  await services.revenue.ingest(hq.id, fleet.id, {
    lines: [
      { externalId: 'INV-DEMO-0001', amount: new Dec('3000.00'), periodStart: monthAgo, periodEnd: yesterday },
      { externalId: 'CN-DEMO-0001', amount: new Dec('-100.00'), date: addDays(today, -10) },
    ],
  }, actor);
  await services.revenue.ingest(hq.id, tokyo.id, {
    lines: [{ externalId: 'INV-DEMO-JP-1', amount: new Dec('125000'), periodStart: monthAgo, periodEnd: yesterday }],
  }, actor);
}
