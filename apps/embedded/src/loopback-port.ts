import { freeLoopbackPort } from '@rampart/service-kit/process';

/**
 * `port`, or when it is 0 a port that was free on 127.0.0.1 a moment ago:
 * for a listener whose URL must be known before it starts (certificates
 * name their CRL under the API front's URL, and the front starts last).
 */
export function loopbackPortFor(port: number): Promise<number> {
  return port !== 0 ? Promise.resolve(port) : freeLoopbackPort();
}
