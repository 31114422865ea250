import { ErrorCode, Subject } from '@rampart/contracts';
import { DomainError, type TypedBus } from '@rampart/service-kit';

/** The cohort a query names is not one of the tenant's (or does not exist: the two answer alike). */
export class CohortNotFoundError extends DomainError {
  override readonly name = 'CohortNotFoundError';
  readonly code = ErrorCode.notFound;
}

/** The updates service, which owns groups and deployments, did not answer. */
export class CohortUnavailableError extends DomainError {
  override readonly name = 'CohortUnavailableError';
  readonly code = ErrorCode.unavailable;
}

/** A device group, or a deployment (and one of its waves), that narrows a view. */
export interface CohortSelector {
  readonly deviceGroup?: string | undefined;
  readonly deployment?: string | undefined;
  readonly wave?: number | undefined;
}

/** Resolves a cohort a query names to its devices, asking the updates service (which owns groups and deployments). */
export class CohortDevices {
  constructor(private readonly bus: TypedBus) {}

  /** The cohort's devices; undefined when the selector names none. Another tenant's group answers as not found. */
  async of(tenantId: string, q: CohortSelector): Promise<string[] | undefined> {
    if (q.deviceGroup === undefined && q.deployment === undefined) return undefined;
    let reply;
    try {
      reply = await this.bus.request(Subject.updatesCohortDevices, {
        tenantId,
        ...(q.deviceGroup === undefined ? {} : { groupId: q.deviceGroup }),
        ...(q.deployment === undefined ? {} : { deploymentId: q.deployment }),
        ...(q.wave === undefined ? {} : { wave: q.wave }),
      });
    } catch (error) {
      throw new CohortUnavailableError(`the updates service did not answer: ${(error as Error).message}`, { cause: error });
    }
    if (reply.deviceIds === null) throw new CohortNotFoundError('no such device group or deployment');
    return reply.deviceIds;
  }
}
