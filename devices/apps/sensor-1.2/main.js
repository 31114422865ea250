// Sensor 1.2.0: applies a factory calibration record — which devices in the
// field never got, so it crashes as it starts, on every device (the README's
// health-gate walkthrough rolls it out and watches the rollout stop itself).
const intervalMs = Number(rampart.config.intervalMs ?? 5000);
const calibration = rampart.storage.get('calibration');
const offset = calibration.offset; // TypeError on a device without the record: the bug
let temperature = 20 + rampart.random() * 5;

function tick() {
  temperature += (rampart.random() - 0.5) * 0.2;
  rampart.telemetry.publish({ temperature: Math.round((temperature + offset) * 100) / 100 });
  rampart.watchdog.kick();
}

rampart.timers.every(intervalMs, tick);
