import { NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { Ids, Subject, decimalInteger } from '@rampart/contracts';
import type { TypedBus } from '@rampart/service-kit';

/** Query parameters that narrow a view to a device group, or to a deployment (and one of its waves). */
export const CohortQueryShape = {
  deviceGroup: Ids.uuid.optional(),
  deployment: Ids.uuid.optional(),
  wave: decimalInteger({ min: 0, max: 1_000 }).optional(),
};

/**
 * The devices of the cohort a query names, asked of the updates service
 * (which owns groups and deployments); undefined when the query names none.
 * Another tenant's group answers as not found.
 */
export async function cohortDevices(
  bus: TypedBus,
  tenantId: string,
  q: { deviceGroup?: string | undefined; deployment?: string | undefined; wave?: number | undefined },
): Promise<string[] | undefined> {
  if (q.deviceGroup === undefined && q.deployment === undefined) return undefined;
  let reply;
  try {
    reply = await bus.request(Subject.updatesCohortDevices, {
      tenantId,
      ...(q.deviceGroup === undefined ? {} : { groupId: q.deviceGroup }),
      ...(q.deployment === undefined ? {} : { deploymentId: q.deployment }),
      ...(q.wave === undefined ? {} : { wave: q.wave }),
    });
  } catch (error) {
    throw new ServiceUnavailableException({
      code: 'UNAVAILABLE',
      message: `the updates service did not answer: ${(error as Error).message}`,
    });
  }
  if (reply.deviceIds === null) throw new NotFoundException({ code: 'NOT_FOUND', message: 'no such device group or deployment' });
  return reply.deviceIds;
}
