export { SecuritySubsystem } from './mcu/security-subsystem.js';
export { manufactureDevice } from './factory/manufacture.js';
export type { ManufactureOptions, ManufacturedDevice } from './factory/manufacture.js';
export { EmulatedDevice, DEFAULT_MAX_PENDING } from './device/emulated-device.js';
export type { ConnectFn, DeviceEnvironment, DeviceOptions, DeviceStats, GatewayEndpoint } from './device/emulated-device.js';
export { DEFAULT_RECONNECT_SPREAD_MS, fullJitterBackoff, reconnectBackoff } from './device/backoff.js';
export { LatencyRecorder } from './device/latency-recorder.js';
export { TelemetrySource, metricNames } from './device/telemetry-source.js';
export { runFleet, realEnvironment } from './fleet/fleet-runner.js';
export type { FleetOptions, FleetProgress, FleetReport, FleetTimelinePoint } from './fleet/fleet-runner.js';
export { createSignedEvidence, measure } from './mcu/attestation-evidence.js';
export type { BootState } from './mcu/attestation-evidence.js';
export { demoBootState, demoKnownGood } from './factory/demo-images.js';
export type { DeviceIdentity, OperationalCertificate } from './device/emulated-device.js';
export { SecureOs } from './os/secure-os.js';
export type { OsEnvironment, OsSinks, SecureOsOptions } from './os/secure-os.js';
export { PowerLoss, UPDATE_STATES } from './os/update-agent.js';
export type { UpdateOutcome, UpdateState } from './os/update-agent.js';
export type { AppConfig } from './os/app-runtime.js';
export {
  DEMO_HARDWARE,
  demoFirmware,
  demoFirmwareSigners,
  firmwareMeasurements,
  flashFirmware,
  platformImage,
} from './firmware/firmware.js';
export type { Firmware, FirmwareSigners } from './firmware/firmware.js';
export { SAMPLE_APPS_DIR, sampleAppImage, signAppImage } from './firmware/app-images.js';
export { ImageSigner, decodeImage, encodeImage, measureImage } from '@rampart/trust';
export type { ImageManifest, SignedImage } from '@rampart/trust';
export { DirectoryStateStore, MemoryStateStore } from './mcu/state-store.js';
export type { DeviceStateStore } from './mcu/state-store.js';
export { VirtualClock } from './device/virtual-clock.js';
export { SCENARIOS, SCENARIO_NAMES } from './fleet/scenarios.js';
export type { FleetControl, Scenario, ScenarioName } from './fleet/scenarios.js';
export { renderFleetReportHtml } from './fleet/report-html.js';
export { DEFAULT_UPDATE_CLIENT_OPTIONS, DownloadError, UpdateClient } from './updates/update-client.js';
export type { UpdateClientOptions, UpdateServer } from './updates/update-client.js';
export { DeviceUpdater, NO_TRUSTED_ROOT, provisionUpdateRoot } from './updates/device-updater.js';
export type { DeferralPolicy, UpdateCheck } from './updates/device-updater.js';
