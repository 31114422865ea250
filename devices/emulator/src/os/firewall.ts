/**
 * The OS network firewall: an app may reach only the hosts its signed
 * manifest lists — exact names, or `*.example.com` for subdomains. Every
 * refusal is counted per app.
 */
export class Firewall {
  private readonly rules = new Map<string, readonly string[]>();
  readonly denied = new Map<string, number>();

  allow(app: string, hosts: readonly string[]): void {
    this.rules.set(
      app,
      hosts.map((h) => h.toLowerCase()),
    );
  }

  permits(app: string, host: string): boolean {
    const wanted = host.toLowerCase();
    const ok = (this.rules.get(app) ?? []).some((rule) =>
      rule.startsWith('*.') ? wanted.endsWith(rule.slice(1)) && wanted.length > rule.length - 1 : rule === wanted,
    );
    if (!ok) this.denied.set(app, (this.denied.get(app) ?? 0) + 1);
    return ok;
  }
}
