// The service kit's signing entry (`@rampart/service-kit/signing`): apart from the main one, since it loads
// @rampart/trust, which only the services that sign need.
export type { KeyError } from './signing-unavailable.error.js';
export { SIGNING_UNAVAILABLE_MESSAGE, SigningUnavailableError, signingOrUnavailable } from './signing-unavailable.error.js';
