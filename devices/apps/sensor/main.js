// Sample sensor: a temperature and humidity reading every `intervalMs`.
const intervalMs = Number(rampart.config.intervalMs ?? 5000);
let temperature = 20 + rampart.random() * 5;

function tick() {
  temperature += (rampart.random() - 0.5) * 0.2;
  rampart.telemetry.publish({ temperature: Math.round(temperature * 100) / 100, humidity: Math.round(40 + rampart.random() * 10) });
  rampart.watchdog.kick();
}

rampart.timers.every(intervalMs, tick);
