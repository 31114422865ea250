import { InvalidArgumentError, Option, type Command } from 'commander';
import { describeError } from '../errors.js';
import { print } from '../output/format.js';
import { groupView, productView, type GroupRow, type ProductRow } from '../output/views.js';
import { maintenanceWindow, outputOption } from '../options.js';
import { allDevices, groupsWithProducts, resolveDevice, resolveGroup, resolveProduct } from '../resolve.js';
import { seg, withSession, type Session } from '../session.js';
import { OS_FEEDS } from './image.js';

export const UPDATE_POLICIES = ['all', 'no-app-updates', 'none'] as const;

export function registerProduct(program: Command): void {
  const product = program.command('product').description('Products (each with Development, Field Test and Production groups)');
  product
    .command('create <name>')
    .description('create a product')
    .option('--description <text>', 'description')
    .addOption(outputOption())
    .action(
      withSession(async (s, name: string, o: { description?: string }) => {
        const created = await s.send<{ product: ProductRow; groups: GroupRow[] }>('POST', '/v1/products', {
          name,
          description: o.description ?? '',
        });
        if (s.output === 'json' || s.output === 'yaml') return print(s.output, created as never, productView);
        await print(s.output, created.product, productView);
        process.stdout.write('\n');
        await print(
          s.output,
          created.groups.map((g) => ({ ...g, product: created.product.name })),
          groupView,
        );
      }),
    );
  product
    .command('list')
    .description('products')
    .addOption(outputOption())
    .action(
      withSession(async (s) => {
        await print(s.output, await s.get<ProductRow[]>('/v1/products'), productView);
      }),
    );

  const group = program
    .command('device-group')
    .description('Device groups (<group> is an id, a unique prefix, product/group, or a name with --product)');
  group
    .command('create <product> <name>')
    .description('create a group in a product (its id, prefix or name)')
    .addOption(new Option('--policy <policy>', 'update policy').choices(UPDATE_POLICIES).default('all'))
    .addOption(new Option('--feed <feed>', 'OS feed').choices(OS_FEEDS).default('retail'))
    .addOption(outputOption())
    .action(
      withSession(async (s, productQuery: string, name: string, o: { policy: string; feed: string }) => {
        const { id: productId, name: productName } = await resolveProduct(s, productQuery);
        const created = await s.send<GroupRow>('POST', '/v1/device-groups', { productId, name, updatePolicy: o.policy, osFeed: o.feed });
        await print(s.output, { ...created, product: productName }, groupView);
      }),
    );
  group
    .command('list')
    .description('groups')
    .option('--product <product>', 'one product (id, prefix or name)')
    .addOption(outputOption())
    .action(
      withSession(async (s, o: { product?: string }) => {
        const productId = o.product === undefined ? undefined : (await resolveProduct(s, o.product)).id;
        await print(s.output, await groupsWithProducts(s, productId), groupView);
      }),
    );
  group
    .command('update <group>')
    .description('change the policy, feed or maintenance window')
    .option('--product <product>', 'the product, when <group> is a bare group name')
    .addOption(new Option('--policy <policy>', 'update policy').choices(UPDATE_POLICIES))
    .addOption(new Option('--feed <feed>', 'OS feed').choices(OS_FEEDS))
    .option('--window <start-end>', 'daily maintenance window in UTC hours, e.g. 2-5; "any" for none', maintenanceWindow)
    .addOption(outputOption())
    .action(
      withSession(
        async (
          s,
          query: string,
          o: { product?: string; policy?: string; feed?: string; window?: { startHour: number; endHour: number } | null },
        ) => {
          const target = await resolveGroup(s, query, o.product);
          const changed = await s.send<GroupRow>('PATCH', `/v1/device-groups/${seg(target.id)}`, {
            ...(o.policy ? { updatePolicy: o.policy } : {}),
            ...(o.feed ? { osFeed: o.feed } : {}),
            ...(o.window === undefined ? {} : { window: o.window }),
          });
          await print(s.output, { ...changed, product: target.product ?? changed.productId }, groupView);
        },
      ),
    );
  group
    .command('assign <group> [devices...]')
    .description('move claimed devices (ids or unique prefixes) into the group; --unassigned: every device in no group')
    .option('--product <product>', 'the product, when <group> is a bare group name')
    .option('--unassigned', "every device of your tenant that is in no group yet (the demo fleet's, say)", false)
    .action(
      withSession(async (s, query: string, deviceQueries: string[], o: { product?: string; unassigned: boolean }) => {
        if (deviceQueries.length === 0 && !o.unassigned) throw new InvalidArgumentError('name the devices to assign, or pass --unassigned');
        if (deviceQueries.length > 0 && o.unassigned) throw new InvalidArgumentError('name devices or pass --unassigned, not both');
        const target = await resolveGroup(s, query, o.product);
        const devices = o.unassigned ? await devicesInNoGroup(s) : await Promise.all(deviceQueries.map((q) => resolveDevice(s, q)));
        await assignEach(s, target.id, devices);
        const what = devices.length === 1 ? `device ${devices[0]!.slice(0, 8)}` : `${devices.length} devices`;
        process.stdout.write(`${what} assigned to ${target.product}/${target.name}\n`);
      }),
    );
}

/**
 * Moves the devices one at a time (each one small call). A failure stops the run and says how far it got, so the
 * operator knows which devices moved and where to carry on; main prints it and exits 1.
 */
export async function assignEach(s: Pick<Session, 'send'>, groupId: string, devices: readonly string[]): Promise<void> {
  for (const [moved, device] of devices.entries()) {
    try {
      await s.send('PUT', `/v1/device-groups/${seg(groupId)}/devices/${seg(device)}`);
    } catch (error) {
      throw new Error(`moved ${moved} of ${devices.length}; stopped at ${device}: ${describeError(error)}`, { cause: error });
    }
  }
}

/** The tenant's devices that no group holds: what `assign --unassigned` moves. */
async function devicesInNoGroup(s: Session): Promise<string[]> {
  const [devices, groups] = await Promise.all([allDevices(s), groupsWithProducts(s)]);
  const grouped = new Set<string>();
  for (const g of groups) for (const member of await s.get<string[]>(`/v1/device-groups/${seg(g.id)}/devices`)) grouped.add(member);
  return devices.filter((d) => !d.revoked && !grouped.has(d.id)).map((d) => d.id);
}
