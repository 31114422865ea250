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
export { readIfPresent } from './stored-file.js';
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
export {
  COMPONENT_RULE,
  HARDWARE_RULE,
  ImageManifestError,
  MAX_SECURITY_VERSION,
  SECURITY_VERSION_RULE,
  VERSION_RULE,
  checkImageManifest,
} from './image-pack/image-manifest.js';
export {
  APP_MAIN_FILE,
  APP_MANIFEST_FILE,
  packImage,
  readAppDirectory,
  signAppDirectory,
  writeImageFile,
} from './image-pack/image-packer.js';
export type { AppDirectory, PackOptions } from './image-pack/image-packer.js';
export { verifyImage } from './image-pack/image-verifier.js';
export type { ImageVerification, VerifyOptions } from './image-pack/image-verifier.js';
export {
  KEY_NAME_RULE,
  SigningKeyError,
  createSigningKeyFiles,
  loadImageSigner,
  loadOrCreateImageSigner,
  readPublicKeyFile,
  signingKeyFilesOf,
} from './image-pack/signing-key-files.js';
export type { SigningKeyFiles } from './image-pack/signing-key-files.js';
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
