/** Injection tokens the service kit provides to every service module. */
export const LOGGER = Symbol('rampart.logger');
export const OBSERVABILITY = Symbol('rampart.observability');
export const READINESS = Symbol('rampart.readiness');
export const MESSAGE_BUS = Symbol('rampart.message-bus');
export const DATA_SOURCE = Symbol('rampart.data-source');
export const SERVICE_CONFIG = Symbol('rampart.service-config');
export const CLOCK = Symbol('rampart.clock');

/** The clock, injected so logic can be tested in virtual time. */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };
