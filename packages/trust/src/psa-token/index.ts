export {
  COSE_ALG,
  COSE_HEADER,
  COSE_SIGN1_TAG,
  CoseError,
  es256Sign,
  openCoseMessage,
  sigStructure,
  signSign1,
  verifySign1,
} from './cose-sign1.js';
export type { CoseFault, CoseMessage } from './cose-sign1.js';
export { PsaBootStateError, PSA_ROT_STAGE, bootLogOfPsaClaims, psaBootClaims } from './psa-boot-stages.js';
export type { PsaBootReading, PsaBootSource } from './psa-boot-stages.js';
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
export { createPsaToken, verifyPsaToken } from './psa-token.js';
export type { PsaTokenCheck, PsaTokenFault } from './psa-token.js';
export { MAX_DETAIL_CHARS, boundedDetail } from './refusal-detail.js';
export { encodeCbor } from './strict-cbor.js';
