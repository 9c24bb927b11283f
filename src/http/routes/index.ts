import { apiKeyRoutes } from './api-keys';
import { changeRequestRoutes } from './change-requests';
import { bunitRoutes } from './bunits';
import { contractRoutes } from './contracts';
import { referralRoutes } from './referrals';
import { revenueRoutes } from './revenue';
import { settlementRoutes } from './settlement';

/** Every /v1 operation, in the order the docs show them. */
export const apiRoutes = [...bunitRoutes, ...contractRoutes, ...referralRoutes, ...changeRequestRoutes, ...revenueRoutes, ...settlementRoutes, ...apiKeyRoutes];
