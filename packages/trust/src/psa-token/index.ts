export {
  COSE_ALG,
  COSE_HEADER,
  COSE_MAC0_TAG,
  COSE_SIGN1_TAG,
  CoseError,
  es256Sign,
  openCoseMessage,
  sigStructure,
  signSign1,
  verifySign1,
} from './cose-sign1.js';
export type { CoseFault, CoseMessage } from './cose-sign1.js';
export {
  PSA_CLAIM,
  PSA_LIFECYCLE,
  PSA_LIMITS,
  PSA_PROFILE,
  PsaClaimError,
  SW_COMPONENT,
  encodeClaims,
  instanceIdOf,
  lifecycleState,
} from './psa-claims.js';
export type { PsaClaims, PsaLifecycleState, PsaSoftwareComponent } from './psa-claims.js';
export { MAX_PSA_TOKEN_BYTES, createPsaToken, verifyPsaMacToken, verifyPsaToken } from './psa-token.js';
export type { PsaTokenCheck, PsaTokenFault } from './psa-token.js';
export { CborRefusedError, decodeDeviceCbor, encodeCbor } from './strict-cbor.js';
