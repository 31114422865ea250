export { SecuritySubsystem } from './mcu/security-subsystem.js';
export { manufactureDevice } from './factory/manufacture.js';
export type { ManufactureOptions, ManufacturedDevice } from './factory/manufacture.js';
export { EmulatedDevice } from './device/emulated-device.js';
export type { DeviceEnvironment, DeviceOptions, GatewayEndpoint } from './device/emulated-device.js';
export { DeviceMachine, DEFAULT_MAX_PENDING, initialDeviceState, step } from './device/device-machine.js';
export type { DeviceMachineConfig, DevicePhase, DeviceState, DeviceStep } from './device/device-machine.js';
export type { DeviceEffect, DeviceEvent, TimedEvent } from './device/device-messages.js';
export { seedRandomState } from './device/device-random.js';
export type { RandomState } from './device/device-random.js';
export type { DeviceStats } from './device/device-stats.js';
export { MqttJsTransport } from './device/mqtt-js-transport.js';
export type { ConnectFn } from './device/mqtt-js-transport.js';
export type { Clock, ConnectionListener, ConnectionRequest, MqttConnection, MqttTransport, TimerHandle } from './device/ports.js';
export { realClock } from './device/real-clock.js';
export { DEFAULT_RECONNECT_SPREAD_MS, fullJitterBackoff, reconnectBackoff } from './device/backoff.js';
export { LatencyRecorder } from './device/latency-recorder.js';
export { metricNames } from './device/telemetry-source.js';
export { runFleet, realEnvironment } from './fleet/fleet-runner.js';
export type { FleetOptions, FleetProgress, FleetReport, FleetTimelinePoint } from './fleet/fleet-runner.js';
export { NSPE_CLIENT_ID, certificateForEnvelope, createPsaEvidence, measure, psaClaimsFor } from './mcu/attestation-evidence.js';
export type { BootState } from './mcu/attestation-evidence.js';
export { demoBootState, demoKnownGood } from './factory/demo-images.js';
export type { DeviceIdentity } from './device/emulated-device.js';
export type { OperationalCertificate } from './device/device-messages.js';
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
export { TpmDevice } from './tpm/tpm-device.js';
export { manufactureTpmDevice } from './tpm/tpm-factory.js';
export type { TpmDeviceIdentity } from './tpm/tpm-factory.js';
export { bootStages, firmwareStages } from './tpm/boot-stages.js';
export { TpmAttestor, tpmDeviceIdentity } from './tpm/tpm-attestor.js';
export type { Attestor } from './device/attestor.js';
export type { BootResult } from './mcu/secure-boot.js';
export { PsaAttestor } from './mcu/attestation-evidence.js';
export type { AttestationOutcome } from './device/emulated-device.js';
export type { AttestChallenge } from './device/device-messages.js';
export { EK_CERT_NV_INDEX, EK_HANDLE, Swtpm, TPM_PROGRAMS, missingTpmPrograms } from './tpm/swtpm.js';
export { manufactureTpm, storeTpmVendorCa, type TpmVendorCa } from './tpm/tpm-factory.js';
export { ECC_P384_EK, TpmClient, credentialFile } from './tpm/tpm-client.js';
export type { EkPolicy } from './tpm/tpm-client.js';
export { QUOTED_PCRS, measureBoot } from './tpm/measured-boot.js';
export type { MeasuredStage } from './tpm/measured-boot.js';
