import { BunitService } from './bunit.service';
import type { ServiceContext } from './context';
import { ContractService } from './contract.service';
import { ReferralService } from './referral.service';

export interface Services {
  ctx: ServiceContext;
  bunits: BunitService;
  contracts: ContractService;
  referrals: ReferralService;
}

export function createServices(ctx: ServiceContext): Services {
  return {
    ctx,
    bunits: new BunitService(ctx),
    contracts: new ContractService(ctx),
    referrals: new ReferralService(ctx),
  };
}
