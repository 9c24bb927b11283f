import { ApiKeyService } from './api-key.service';
import { ApprovalService } from './approval.service';
import { BillingWindowService } from './billing-window.service';
import { BunitService } from './bunit.service';
import type { ServiceContext } from './context';
import { ContractService } from './contract.service';
import { DisputeService } from './dispute.service';
import { JournalService } from './journal.service';
import { NettingService } from './netting.service';
import { PeriodCloseService } from './period-close.service';
import { EventService } from './event.service';
import { ReferralService } from './referral.service';
import { RevenueService } from './revenue.service';
import { SettlementService } from './settlement.service';
import { StatementAcceptanceService } from './statement-acceptance.service';
import { StatementService } from './statement.service';
import { WebhookEndpointService } from './webhook/endpoint.service';

export interface Services {
  ctx: ServiceContext;
  apiKeys: ApiKeyService;
  approval: ApprovalService;
  bunits: BunitService;
  contracts: ContractService;
  referrals: ReferralService;
  revenue: RevenueService;
  settlement: SettlementService;
  statements: StatementService;
  statementAcceptance: StatementAcceptanceService;
  disputes: DisputeService;
  billingWindows: BillingWindowService;
  events: EventService;
  webhooks: WebhookEndpointService;
  periods: PeriodCloseService;
  nettings: NettingService;
  journals: JournalService;
}

export function createServices(ctx: ServiceContext, hooks: { onKeyRevoked?: () => void } = {}): Services {
  const contracts = new ContractService(ctx);
  return {
    ctx,
    apiKeys: new ApiKeyService(ctx, hooks.onKeyRevoked),
    approval: new ApprovalService(ctx),
    bunits: new BunitService(ctx),
    contracts,
    referrals: new ReferralService(ctx),
    revenue: new RevenueService(ctx, contracts),
    settlement: new SettlementService(ctx),
    statements: new StatementService(ctx),
    statementAcceptance: new StatementAcceptanceService(ctx),
    disputes: new DisputeService(ctx),
    billingWindows: new BillingWindowService(ctx),
    events: new EventService(ctx),
    webhooks: new WebhookEndpointService(ctx, ctx.webhookUrlPolicy ?? { allowHttp: false, allowPrivate: false }),
    periods: new PeriodCloseService(ctx),
    nettings: new NettingService(ctx),
    journals: new JournalService(ctx),
  };
}
