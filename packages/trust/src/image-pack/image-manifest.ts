import { z } from 'zod';
import type { AppCapabilities, ImageComponent, ImageManifest } from '../signed-image.js';

/** What each manifest field accepts, in words an operator can act on (errors quote them). */
export const COMPONENT_RULE =
  'os, bootloader, security-monitor or app:<name> (<name>: 1-63 lower-case letters, digits and hyphens, not starting with a hyphen)';
export const VERSION_RULE = '1-64 letters, digits, ".", "+" or "-", starting with a letter or digit (e.g. 1.1.0)';
export const HARDWARE_RULE = '1-64 letters, digits, ".", "_" or "-", starting with a letter or digit (e.g. rampart-emu-1)';
/** Anti-rollback counters are 16-bit fuse values. */
export const MAX_SECURITY_VERSION = 0xffff;
export const SECURITY_VERSION_RULE = `a whole number from 0 to ${MAX_SECURITY_VERSION}`;

const COMPONENT = /^(bootloader|security-monitor|os|app:[a-z0-9][a-z0-9-]{0,62})$/;
const VERSION = /^[0-9A-Za-z][0-9A-Za-z.+-]{0,63}$/;
const HARDWARE = /^[0-9A-Za-z][0-9A-Za-z._-]{0,63}$/;

export const imageComponentSchema = z
  .string({ error: `required: ${COMPONENT_RULE}` })
  .regex(COMPONENT, { error: (issue) => `${JSON.stringify(issue.input)} is not a component: ${COMPONENT_RULE}` })
  .transform((value) => value as ImageComponent);
export const imageVersionSchema = z
  .string({ error: `required: ${VERSION_RULE}` })
  .regex(VERSION, { error: (issue) => `${JSON.stringify(issue.input)} is not a version: ${VERSION_RULE}` });
export const securityVersionSchema = z
  .int({ error: `required: ${SECURITY_VERSION_RULE}` })
  .min(0, { error: `must be ${SECURITY_VERSION_RULE}` })
  .max(MAX_SECURITY_VERSION, { error: `must be ${SECURITY_VERSION_RULE}` });
const hardwareSchema = z
  .string({ error: `required: ${HARDWARE_RULE}` })
  .regex(HARDWARE, { error: (issue) => `${JSON.stringify(issue.input)} is not a hardware name: ${HARDWARE_RULE}` });

/** An app's grants (see `AppCapabilities`); unknown keys are refused, since a misspelt grant would silently be lost. */
export const appCapabilitiesSchema = z.strictObject({
  allowedHosts: z.array(z.string().min(1).max(253)).max(64),
  telemetry: z.boolean(),
  storageQuotaBytes: z.int().min(0),
  deviceAuth: z.boolean(),
  watchdogMs: z.int().positive().optional(),
});

/** A manifest as devices and the updates service accept it: capabilities belong to apps only. */
export const imageManifestSchema = z
  .object({
    component: imageComponentSchema,
    version: imageVersionSchema,
    securityVersion: securityVersionSchema,
    hardware: hardwareSchema,
    capabilities: appCapabilitiesSchema.optional(),
  })
  .refine((m) => m.capabilities === undefined || m.component.startsWith('app:'), {
    error: 'only an app (app:<name>) carries capabilities',
    path: ['capabilities'],
  });

/** A manifest (or its inputs) that breaks a rule; `problems` lists each, field first. */
export class ImageManifestError extends Error {
  override readonly name = 'ImageManifestError';
  constructor(
    readonly problems: readonly string[],
    options?: ErrorOptions,
  ) {
    super(problems.join('; '), options);
  }
}

/** The issues of a failed parse as `field: problem` lines. */
export function problemsOf(error: z.ZodError, prefix = ''): string[] {
  return error.issues.map((issue) => {
    const path = issue.path.map(String).join('.');
    return path === '' ? `${prefix}${issue.message}` : `${prefix}${path}: ${issue.message}`;
  });
}

/** Checks a manifest against the rules; every broken rule is named in one `ImageManifestError`. */
export function checkImageManifest(manifest: unknown): ImageManifest {
  const result = imageManifestSchema.safeParse(manifest);
  if (!result.success) throw new ImageManifestError(problemsOf(result.error));
  const { capabilities, ...rest } = result.data;
  return capabilities === undefined ? rest : { ...rest, capabilities: canonicalCapabilities(capabilities) };
}

/** Optional fields are absent, not `undefined`, so the canonical manifest (and its measurement) stays the same. */
export function canonicalCapabilities(capabilities: z.infer<typeof appCapabilitiesSchema>): AppCapabilities {
  const { watchdogMs, ...rest } = capabilities;
  return watchdogMs === undefined ? rest : { ...rest, watchdogMs };
}
