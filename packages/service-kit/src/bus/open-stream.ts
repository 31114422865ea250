import type { ServiceName, StreamDefinition } from '@rampart/contracts';
import type { JoinedStream, MessageBus } from './message-bus.js';

/** Limits the owner of a stream may set from its configuration instead of the contract's defaults. */
export interface StreamLimits {
  readonly maxAgeMs: number;
  readonly duplicateWindowMs: number;
}

/**
 * Opens a stream as `service`: its owner (named in the contract) creates it or brings it to its settings; any other
 * service checks that it captures what it needs and leaves its settings alone, creating it with the contract's
 * defaults only if no one has yet (and answers what it found). So restarting a consumer never undoes its owner's
 * configuration.
 */
export async function openStream(
  bus: MessageBus,
  stream: StreamDefinition,
  service: ServiceName,
  ownerLimits?: StreamLimits,
): Promise<JoinedStream | undefined> {
  const options = {
    name: stream.name,
    subjects: stream.subjects,
    maxAgeMs: ownerLimits?.maxAgeMs ?? stream.maxAgeMs,
    duplicateWindowMs: ownerLimits?.duplicateWindowMs ?? stream.duplicateWindowMs,
  };
  if (stream.owner === service) {
    await bus.ensureStream(options);
    return undefined;
  }
  if (ownerLimits !== undefined) throw new Error(`${service} sets limits on stream ${stream.name}, which ${stream.owner} owns`);
  return bus.joinStream(options);
}
