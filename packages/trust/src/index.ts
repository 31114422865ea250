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
export {
  DEVELOPMENT_TLS_CA,
  DEVELOPMENT_TPM_VENDOR_CA,
  loadOrCreateDevelopmentPki,
  loadOrCreateTpmVendorCa,
  type DevelopmentPkiOptions,
} from './development-pki.js';
export type { DevelopmentPki } from './development-pki.js';
export { readIfPresent } from './stored-file.js';
export { OperationalCertificateIssuer, derToPem } from './operational-issuer.js';
export type { OperationalCertificateRequest, ProviderCaKey } from './operational-issuer.js';
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
export { ProviderTufSigner, algorithmOfTufKey, tufKeyFromJson, tufKeyOf } from './tuf/tuf-signer.js';
export type { TufSigner } from './tuf/tuf-signer.js';
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
export {
  MIN_PASSPHRASE_LENGTH,
  OfflineKeyError,
  createOfflineKeyFiles,
  loadOfflineKey,
  publicKeyFileOf,
  readOfflinePublicKey,
  readPassphraseFile,
} from './tuf/offline-key-files.js';
export type { OfflineKeyFiles } from './tuf/offline-key-files.js';
export {
  DEFAULT_OFFLINE_ROOT_DAYS,
  ONLINE_ROLES,
  OfflineRootError,
  ceremonyFileText,
  combineSignatures,
  makeOfflineRoot,
  parseOnlineGrants,
  parseRootMetadata,
  signOfflineRoot,
  summarizeRoot,
  verifyImportedRoot,
  verifyRootRotation,
} from './tuf/offline-root.js';
export type {
  OfflineRootRefusal,
  OfflineRootSpec,
  OnlineGrants,
  RootImportContext,
  RootMetadata,
  RootPolicy,
  RootSummary,
  SignedCopy,
} from './tuf/offline-root.js';
export type { KeyAlgorithm, KeyHandle, KeyProvider, Readiness } from './keys/key-provider.js';
export { KEY_ALGORITHMS } from './keys/key-provider.js';
export type { KeyOwner } from './keys/key-label.js';
export { checkKeyLabel, keyLabel } from './keys/key-label.js';
export {
  InvalidKeyLabelError,
  KeyExistsError,
  KeyNotFoundError,
  KeyProviderError,
  Pkcs11ModuleError,
  TokenLoginError,
  TokenOperationError,
  TokenUnavailableError,
  UnsupportedAlgorithmError,
  UnusableKeyError,
  errorForKey,
} from './keys/key-errors.js';
export { signCertificate, signCrl, signatureAlgorithmFor } from './keys/certificate-signing.js';
export { DirectorySealedKeyStore } from './keys/sealed-key-store.js';
export type { SealedKeyStore } from './keys/sealed-key-store.js';
export { SoftwareKeyProvider } from './keys/software-key-provider.js';
export { Pkcs11KeyProvider } from './keys/pkcs11/pkcs11-key-provider.js';
export {
  DEFAULT_PKCS11_RECONNECT_INTERVAL_MS,
  DEFAULT_PKCS11_SESSIONS,
  Pkcs11OptionsError,
  parsePkcs11Options,
  pkcs11OptionsSchema,
} from './keys/pkcs11/pkcs11-options.js';
export type { Pkcs11Options } from './keys/pkcs11/pkcs11-options.js';
export {
  KEY_PROVIDER_KINDS,
  keyProviderConfig,
  keyProviderEnvShape,
  openKeyProvider,
  withKeyProviderChoice,
} from './keys/key-provider-config.js';
export type { KeyProviderConfig, KeyProviderKind } from './keys/key-provider-config.js';
export type { TbsSigner } from './keys/certificate-signing.js';
export {
  BACKDATE_MS,
  CA_KEY_USAGE,
  normalizeSerial,
  crlIssuerId,
  crlNextUpdate,
  signCaCrl,
  signSubordinateCa,
  subjectKeyIdentifier,
} from './ceremony/ca-certificates.js';
export type { CaCertificateSubject, CaCrlRequest, Revocation, SigningCa } from './ceremony/ca-certificates.js';
export {
  CsrExtensionError,
  CsrFormatError,
  CsrKeyTypeError,
  CsrRefusedError,
  CsrSignatureError,
  RootKeyError,
} from './ceremony/ceremony-errors.js';
export type { CsrRefusal } from './ceremony/ceremony-errors.js';
export { checkIssuingCsr } from './ceremony/csr-policy.js';
export type { CheckedIssuingCsr } from './ceremony/csr-policy.js';
export { DEFAULT_ISSUING_CA_SUBJECT, ISSUING_CA_KEY_LABEL, createIssuingCsr } from './ceremony/issuing-csr.js';
export type { IssuingCsr } from './ceremony/issuing-csr.js';
export { DEFAULT_ISSUING_CA_VALIDITY_DAYS, signIssuingCa } from './ceremony/issuing-ca.js';
export {
  IssuingCaChainError,
  IssuingCaConstraintsError,
  IssuingCaImportError,
  IssuingCaKeyError,
  IssuingCaRevokedError,
  RootCrlError,
  checkIssuingCaCertificate,
  checkIssuingCaKey,
  checkRootCrl,
  importIssuingCa,
  refuseRevokedIssuingCa,
} from './ceremony/issuing-ca-import.js';
export type { CheckedIssuingCaCertificate, CheckedRootCrl, ImportedIssuingCa, IssuingCaImport } from './ceremony/issuing-ca-import.js';
export { signTenantCa } from './ceremony/tenant-ca.js';
export type { TenantCaRequest } from './ceremony/tenant-ca.js';
export type { IssuingCaRequest } from './ceremony/issuing-ca.js';
export {
  DEFAULT_ROOT_VALIDITY_DAYS,
  ISSUING_CA_PATH_LENGTH,
  OFFLINE_ROOT_KEY_LABEL,
  ROOT_PATH_LENGTH,
  TENANT_CA_PATH_LENGTH,
  commonNameOnly,
  createOfflineRoot,
  openEncryptedRoot,
  openTokenRoot,
  rootCrl,
} from './ceremony/offline-root.js';
export type { CreatedOfflineRoot, OfflineRootKeys, OfflineRootRequest } from './ceremony/offline-root.js';
export {
  ROOT_FILES,
  openRootDirectory,
  recordIssued,
  revocationsWith,
  writeRevocations,
  writeRootDirectory,
} from './ceremony/root-directory.js';
export type { OpenedRoot, RootAccess, RootTokenNote } from './ceremony/root-directory.js';
export { TpmFormatError } from './tpm/tpm-reader.js';
export { TPM_GENERATED_VALUE, TpmAlg, TpmSt, TpmaObject } from './tpm/tpm-constants.js';
export {
  AK_REQUIRED_ATTRIBUTES,
  attestationKeyFaults,
  endorsementKeyFaults,
  objectName,
  parseTpm2bPublic,
  parseTpmtPublic,
  publicKeyOf,
} from './tpm/tpm-public.js';
export type { TpmPublic, TpmSymmetric } from './tpm/tpm-public.js';
export { kdfa, kdfe, makeCredential, wrapCredential } from './tpm/make-credential.js';
export type { MadeCredential } from './tpm/make-credential.js';
export { parseQuote, verifyTpmSignature } from './tpm/tpm-attest.js';
export type { PcrSelection, TpmQuote } from './tpm/tpm-attest.js';
export {
  EV_EVENT_TAG,
  EV_NO_ACTION,
  MAX_LOG_EVENTS,
  RAMPART_STAGE_TAG,
  STAGE_PCRS,
  pcrEvent2,
  pcrOfStage,
  replayEventLog,
  specIdEvent,
  stageEvent,
  stageEventData,
} from './tpm/event-log.js';
export type { ReplayedLog, StageEvent } from './tpm/event-log.js';
export { checkAttestationKey, verifyQuote } from './tpm/quote-verifier.js';
export type { QuoteFault, QuoteInput, VerifiedQuote } from './tpm/quote-verifier.js';
export {
  HW_TYPE_TPM2,
  HardwareModuleName,
  ID_ON_HARDWARE_MODULE_NAME,
  hardwareModuleNameGeneralName,
  hardwareModuleNamesOf,
  tpmSerialOf,
} from './tpm/hardware-module-name.js';
export { APP_SIGNATURE_CONTEXT, appSignedBytes, verifyAppSignature } from './app-signature.js';
export {
  COSE_ALG,
  COSE_HEADER,
  COSE_SIGN1_TAG,
  MAX_DETAIL_CHARS,
  PSA_CLAIM,
  PSA_LIFECYCLE,
  PSA_PROFILE,
  PSA_ROT_STAGE,
  PsaBootStateError,
  SW_COMPONENT,
  bootLogOfPsaClaims,
  boundedDetail,
  createPsaToken,
  encodeClaims,
  encodeCbor,
  es256Sign,
  instanceIdOf,
  lifecycleState,
  psaBootClaims,
  signSign1,
  verifyPsaToken,
} from './psa-token/index.js';
export type {
  PsaBootReading,
  PsaBootSource,
  PsaClaims,
  PsaLifecycleState,
  PsaSoftwareComponent,
  PsaTokenCheck,
  PsaTokenFault,
} from './psa-token/index.js';
