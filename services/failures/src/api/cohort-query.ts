import { Ids, decimalInteger } from '@rampart/contracts';

/** Query parameters that narrow a view to a device group, or to a deployment (and one of its waves). */
export const CohortQueryShape = {
  deviceGroup: Ids.uuid.optional(),
  deployment: Ids.uuid.optional(),
  wave: decimalInteger({ min: 0, max: 1_000 }).optional(),
};
