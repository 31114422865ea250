// Sensor 1.1.0: a new smoothing step — with a bug that crashes a share of ticks
// (`crashRate`, 0 to 1), so rollouts have something to catch.
const intervalMs = Number(rampart.config.intervalMs ?? 5000);
const crashRate = Number(rampart.config.crashRate ?? 0);
let temperature = 20 + rampart.random() * 5;
const window = [];

function smooth(value) {
  window.push(value);
  if (window.length > 4) window.shift();
  if (rampart.random() < crashRate) {
    const calibration = undefined;
    return calibration.offset + value; // TypeError: the bug
  }
  return window.reduce((a, b) => a + b, 0) / window.length;
}

function tick() {
  temperature += (rampart.random() - 0.5) * 0.2;
  rampart.telemetry.publish({ temperature: Math.round(smooth(temperature) * 100) / 100 });
  rampart.watchdog.kick();
}

rampart.timers.every(intervalMs, tick);
