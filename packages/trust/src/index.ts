export { CertificateAuthority, DEFAULT_CA_VALIDITY_DAYS, DEFAULT_DEVICE_IDENTITY_VALIDITY_DAYS } from './certificate-authority.js';
export type { IssuedServerCertificate, StoredCertificateAuthority } from './certificate-authority.js';
export { certificatesInPemBundle, deviceIdFromPublicKey, deviceIdFromPublicKeyPem, deviceIdFromSpki, spkiOf } from './device-id.js';
export {
  PeerIdentityError,
  deviceIdFromVerifiedCertificate,
  tenantOfOperationalCertificate,
  tenantUri,
  tenantsNamedBy,
} from './peer-identity.js';
export { loadOrCreateDevelopmentPki } from './development-pki.js';
export type { DevelopmentPki } from './development-pki.js';
export { OperationalCertificateIssuer, derToPem } from './operational-issuer.js';
export type { OperationalCertificateRequest } from './operational-issuer.js';
export {
  ImageFormatError,
  ImageSigner,
  checkImageSignature,
  decodeImage,
  encodeImage,
  imageDigest,
  keyIdOf,
  measureImage,
} from './signed-image.js';
export type { AppCapabilities, ImageComponent, ImageManifest, SignatureCheck, SignedImage } from './signed-image.js';
export { KeyVault } from './key-vault.js';
export { DEVICE_TLS_SERVER_OPTIONS, TLS12_CIPHERS } from './tls-policy.js';
export { TufSigningKey, tufPublicKey } from './tuf/tuf-keys.js';
export {
  DIRECTOR_ROLE,
  MAX_METADATA_BYTES,
  MetadataFile,
  MetadataRefusedError,
  TooManyBytesError,
  UpdateMetadataClient,
} from './tuf/update-metadata.js';
export type {
  DirectedTarget,
  ImageTargetCustom,
  MetadataFetch,
  MetadataRefusal,
  RefreshResult,
  TrustedMetadata,
} from './tuf/update-metadata.js';
export { metadataBytes, signDirectorTargets, signRoot, signSnapshot, signTargets, signTimestamp } from './tuf/metadata-signer.js';
export type { ImageTarget, RoleGrants } from './tuf/metadata-signer.js';
