import type { Command } from 'commander';
import { print } from '../output/format.js';
import { keyValueView, newTokenView, tenantView, tokenView, type NewTokenRow, type TenantRow, type TokenRow } from '../output/views.js';
import { duration, outputOption, role, ROLES, type Role } from '../options.js';
import { resolveToken } from '../resolve.js';
import { seg, withSession } from '../session.js';

export function registerTenant(program: Command): void {
  const tenant = program.command('tenant').description('Tenants (platform operator) and their API tokens');
  tenant
    .command('create <id>')
    .description('create a tenant and its CA; prints its first Administrator token (once)')
    .option('--name <name>', 'display name')
    .addOption(outputOption())
    .action(
      withSession(async (s, id: string, o: { name?: string }) => {
        await print(s.output, await s.send<TenantRow>('POST', '/v1/tenants', { id, name: o.name ?? id }), tenantView);
      }),
    );

  const token = tenant.command('token').description("your tenant's API tokens (an Administrator's)");
  token
    .command('create', { isDefault: true })
    .description('create an API token; printed once')
    .argument('<role>', `${ROLES.join(', ')} (any case)`, role)
    .option('--expires-in <time>', 'lifetime (1h, 30d …); none: until revoked', duration)
    .addOption(outputOption())
    .action(
      withSession(async (s, wanted: Role, o: { expiresIn?: number }) => {
        const expiry = o.expiresIn === undefined ? {} : { expiresInSeconds: Math.ceil(o.expiresIn / 1000) };
        await print(s.output, await s.send<NewTokenRow>('POST', '/v1/tokens', { role: wanted, ...expiry }), newTokenView);
      }),
    );
  token
    .command('list')
    .description('id, role, status, expiry and age of each token (never the token)')
    .addOption(outputOption())
    .action(
      withSession(async (s) => {
        await print(s.output, await s.get<TokenRow[]>('/v1/tokens'), tokenView);
      }),
    );
  token
    .command('revoke <token-id>')
    .description('revoke a token (id or unique prefix): every service refuses it within seconds')
    .addOption(outputOption())
    .action(
      withSession(async (s, query: string) => {
        const id = await resolveToken(s, query);
        await print(s.output, await s.send('POST', `/v1/tokens/${seg(id)}/revoke`), keyValueView);
      }),
    );
}
