// Reaches the host its manifest allows, then one it does not. The firewall
// refuses the second with EPERM; the app notes it and carries on.
const intervalMs = Number(rampart.config.intervalMs ?? 60000);

async function probe() {
  const allowed = await rampart.net.request('api.example.com', '/status');
  let refused = 0;
  try {
    await rampart.net.request('exfiltrate.example.net', '/upload');
  } catch (error) {
    if (error.code === 'EPERM') refused = 1;
    else throw error;
  }
  rampart.telemetry.publish({ allowed_status: allowed.status, refused });
}

rampart.timers.every(intervalMs, probe);
