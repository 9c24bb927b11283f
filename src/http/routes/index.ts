import { apiKeyRoutes } from './api-keys';
import { bunitRoutes } from './bunits';
import { contractRoutes } from './contracts';
import { referralRoutes } from './referrals';
import { revenueRoutes } from './revenue';
import { settlementRoutes } from './settlement';

/** Every /v1 operation, in the order the docs show them. */
export const apiRoutes = [...bunitRoutes, ...contractRoutes, ...referralRoutes, ...revenueRoutes, ...settlementRoutes, ...apiKeyRoutes];
