import { ErrorCode } from '@rampart/contracts';
import { DomainError } from '@rampart/service-kit';

// The updates service's TUF errors, one class per failure; each edge maps them by their code (the contracts' table).

/** No metadata file by that name: not a TUF role's file, or a root version the tenant never had. */
export class MetadataFileNotFoundError extends DomainError {
  override readonly name = 'MetadataFileNotFoundError';
  readonly code = ErrorCode.notFound;
}

/**
 * The tenant's repository has no root yet: with KEYS_PROVIDER=pkcs11 the
 * platform holds no root key, and an offline-signed root must be imported
 * before anything is released to the tenant or served to its devices.
 */
export class TufRootMissingError extends DomainError {
  override readonly name = 'TufRootMissingError';
  readonly code = ErrorCode.tufRootMissing;
  constructor(tenantId: string) {
    super(
      `tenant ${tenantId} has no TUF root yet: its root keys are offline. Get the online keys (rampart tuf online-keys), ` +
        'make and sign root version 1 offline (rampart ceremony tuf-root make|sign|merge), then import it (rampart tuf root import 1.root.json)',
    );
  }
}

/** An offered root was refused; `reason` is the check that failed (OfflineRootRefusal, or 'root-keys-online'). Nothing was stored. */
export class RootRejectedError extends DomainError {
  override readonly name = 'RootRejectedError';
  readonly code = ErrorCode.rootRejected;
  constructor(
    readonly reason: string,
    message: string,
    options?: ErrorOptions,
  ) {
    super(`root refused (${reason}): ${message}`, options);
  }
}

/** This install keeps its tenants' root keys itself (KEYS_PROVIDER=software): it takes no offline root. */
export class OfflineRootsNotTakenError extends DomainError {
  override readonly name = 'OfflineRootsNotTakenError';
  readonly code = ErrorCode.conflict;
  readonly reason = 'root-keys-online';
}

/** The platform holds no root key to rotate with (the root is offline): rotate by the ceremony and import. */
export class RootKeysOfflineError extends DomainError {
  override readonly name = 'RootKeysOfflineError';
  readonly code = ErrorCode.conflict;
}
