import type { BrokerHooks } from '../broker.js';

/**
 * Nothing a device sends is routed to another device; the check is kept
 * here too so a future topic cannot leak by accident.
 */
export function authorizeForwardHook(): BrokerHooks['authorizeForward'] {
  return (client, packet) => (packet.topic.startsWith(`devices/${client.id}/`) ? packet : null);
}
