// The id format alone (no schemas): the contracts index builds every zod schema, which the CLI must not load to start.
import { isDeviceId } from '@rampart/contracts/identity';
import { FULL_ID, LookupError, pick, type Candidate } from './lookup.js';
import type { BucketRow, DeploymentRow, DeviceRow, GroupRow, ImageRow, ProductRow, TokenRow } from './output/views.js';
import { seg, type Session } from './session.js';

// Every <id> argument: a full id goes straight through (the API checks it); anything else is looked up in the
// tenant's own lists, so a typo or `../images` is an error here and never becomes part of a URL.

const TOKEN_ID = FULL_ID.uuid;

/** A full device id typed in any case, as the API names it (lowercase); undefined for anything else (a prefix, a typo). */
export function fullDeviceId(query: string): string | undefined {
  const id = query.toLowerCase();
  return isDeviceId(id) ? id : undefined;
}

/** All a lookup needs of a session: reading lists. */
type Reader = Pick<Session, 'get'>;

/** The most rows the API answers per list call (its `limit` maximum). */
export const API_PAGE = 1000;

/**
 * Every device of the tenant. The device list pages by offset in id order, so it is read to its end: a prefix
 * unique among the first page may not be unique, and `assign --unassigned` must see every device.
 */
export async function allDevices(s: Reader): Promise<DeviceRow[]> {
  const devices: DeviceRow[] = [];
  for (;;) {
    const page = await s.get<DeviceRow[]>(`/v1/devices?limit=${API_PAGE}&offset=${devices.length}`);
    // Pages come in id order; one that does not move on (an API ignoring offset) would loop for ever.
    const previous = devices.at(-1)?.id;
    if (previous !== undefined && page.length > 0 && page[0]!.id <= previous)
      throw new Error('the device list did not advance from one page to the next; give full device ids');
    devices.push(...page);
    if (page.length < API_PAGE) return devices;
  }
}

/**
 * A list the API cuts at API_PAGE and cannot page: when it comes back full, what the query names may lie beyond
 * it, so a prefix or name is refused rather than matched against part of the list.
 */
function whole<T>(rows: T[], kind: string, fullId: string): T[] {
  if (rows.length >= API_PAGE)
    throw new LookupError(`the API lists only the first ${API_PAGE} ${kind}s and there may be more: give the full ${fullId}`);
  return rows;
}

export async function resolveProduct(s: Reader, query: string): Promise<ProductRow> {
  const products = await s.get<ProductRow[]>('/v1/products');
  const id = pick(
    'product',
    query,
    products.map((p) => ({ id: p.id, names: [p.name], label: `${p.id}  ${p.name}` })),
  );
  return products.find((p) => p.id === id)!;
}

/** Groups with their product's name, for `product/group` names and for tables. */
export async function groupsWithProducts(s: Reader, productId?: string): Promise<GroupRow[]> {
  const [products, groups] = await Promise.all([
    s.get<ProductRow[]>('/v1/products'),
    s.get<GroupRow[]>(`/v1/device-groups${productId === undefined ? '' : `?productId=${seg(productId)}`}`),
  ]);
  const names = new Map(products.map((p) => [p.id, p.name]));
  return groups.map((g) => ({ ...g, product: names.get(g.productId) ?? g.productId }));
}

/** A group: its id, a prefix, `product/group`, or a group name (within --product when given). */
export async function resolveGroup(s: Reader, query: string, product?: string): Promise<GroupRow> {
  let productId: string | undefined;
  let name = query;
  const slash = query.indexOf('/');
  if (slash > 0) {
    productId = (await resolveProduct(s, query.slice(0, slash))).id;
    name = query.slice(slash + 1);
  } else if (product !== undefined) productId = (await resolveProduct(s, product)).id;
  const groups = await groupsWithProducts(s, productId);
  const candidates: Candidate[] = groups.map((g) => ({
    id: g.id,
    names: [g.name, `${g.product}/${g.name}`],
    label: `${g.id}  ${g.product}/${g.name}`,
  }));
  const id = pick('device group', name, candidates);
  return groups.find((g) => g.id === id)!;
}

/** Every deployment of the tenant (the API lists them per group). */
export async function allDeployments(s: Reader): Promise<DeploymentRow[]> {
  const groups = await groupsWithProducts(s);
  const lists = await Promise.all(
    groups.map(async (g) =>
      (await s.get<DeploymentRow[]>(`/v1/deployments?groupId=${seg(g.id)}`)).map((d) => ({ ...d, group: `${g.product}/${g.name}` })),
    ),
  );
  return lists.flat().sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

export async function resolveDeployment(s: Reader, query: string): Promise<string> {
  if (FULL_ID.uuid.test(query)) return query.toLowerCase();
  const deployments = await allDeployments(s);
  return pick(
    'deployment',
    query,
    deployments.map((d) => ({ id: d.id, names: [], label: `${d.id}  ${d.group ?? d.groupId}  ${d.state}  ${d.createdAt}` })),
  );
}

export async function resolveDevice(s: Reader, query: string): Promise<string> {
  const full = fullDeviceId(query);
  if (full !== undefined) return full;
  const devices = await allDevices(s);
  return pick(
    'device',
    query,
    devices.map((d) => ({ id: d.id, names: [], label: d.id })),
  );
}

/** An image: its digest, a digest prefix, or `component@version`. */
export async function resolveImage(s: Reader, query: string): Promise<string> {
  if (FULL_ID.sha256.test(query)) return query.toLowerCase();
  const images = whole(await s.get<ImageRow[]>('/v1/images'), 'image', '64-hex digest');
  return pick(
    'image',
    query,
    images.map((i) => ({
      id: i.sha256,
      names: [`${i.component}@${i.version}`],
      label: `${i.sha256}  ${i.component}@${i.version}  ${i.status}`,
    })),
  );
}

export async function resolveToken(s: Reader, query: string): Promise<string> {
  if (TOKEN_ID.test(query)) return query.toLowerCase();
  const tokens = await s.get<TokenRow[]>('/v1/tokens');
  return pick(
    'token',
    query,
    tokens.map((t) => ({ id: t.id, names: [], label: `${t.id}  ${t.role}` })),
  );
}

/** A failure bucket: its 32-hex signature or a unique prefix of it (tables show 12 characters). */
export async function resolveBucket(s: Reader, query: string): Promise<string> {
  if (/^[0-9a-f]{32}$/i.test(query)) return query.toLowerCase();
  const buckets = whole(await s.get<BucketRow[]>(`/v1/failure-buckets?limit=${API_PAGE}`), 'bucket', '32-hex signature');
  return pick(
    'bucket',
    query,
    buckets.map((b) => ({ id: b.signature, names: [], label: `${b.signature}  ${b.title}` })),
  );
}
