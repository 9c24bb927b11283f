import { bunitRoutes } from './bunits';
import { contractRoutes } from './contracts';
import { referralRoutes } from './referrals';

/** Every /v1 operation, in the order the docs show them. */
export const apiRoutes = [...bunitRoutes, ...contractRoutes, ...referralRoutes];
