import { apiKeyRoutes } from './api-keys';
import { changeRequestRoutes } from './change-requests';
import { bunitRoutes } from './bunits';
import { contractRoutes } from './contracts';
import { eventRoutes } from './events';
import { periodRoutes } from './periods';
import { referralRoutes } from './referrals';
import { revenueRoutes } from './revenue';
import { settlementRoutes } from './settlement';
import { statementDisputeRoutes } from './statement-disputes';
import { webhookRoutes } from './webhooks';

/** Every /v1 operation, in the order the docs show them. */
export const apiRoutes = [...bunitRoutes, ...contractRoutes, ...referralRoutes, ...changeRequestRoutes, ...revenueRoutes, ...settlementRoutes, ...statementDisputeRoutes, ...periodRoutes, ...apiKeyRoutes, ...eventRoutes, ...webhookRoutes];
