import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';

/**
 * Hop-by-hop fields (RFC 9110 §7.6.1, and the older ones RFC 2616 §13.5.1
 * lists): they describe one connection, so a proxy must not forward them.
 * `host` is the upstream's own; `expect` is answered here (Node sends the
 * 100 Continue itself) and the upstream connection does not take it.
 */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
]);

/** The fields a message's `Connection` header names are hop-by-hop too (RFC 9110 §7.6.1). */
function namedByConnection(headers: IncomingHttpHeaders): Set<string> {
  const connection = headers['connection'];
  const value = Array.isArray(connection) ? connection.join(',') : (connection ?? '');
  return new Set(
    value
      .split(',')
      .map((s) => s.trim().toLowerCase())
      .filter((s) => s !== ''),
  );
}

function endToEnd(headers: IncomingHttpHeaders, alsoDrop: readonly string[]): Record<string, string | string[]> {
  const dropped = namedByConnection(headers);
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name) || dropped.has(name) || alsoDrop.includes(name)) continue;
    out[name] = value;
  }
  return out;
}

export interface ClientSide {
  /** The address the request came from (the socket's peer). */
  readonly remoteAddress: string | undefined;
  /** Whether the client's connection to the front was TLS. */
  readonly encrypted: boolean;
}

/**
 * What the front sends upstream: the request's end-to-end fields (Authorization
 * among them, unchanged) plus X-Forwarded-For (the peer appended to any list an
 * ingress started), X-Forwarded-Proto (kept from an ingress that terminated TLS,
 * else this connection's) and X-Forwarded-Host.
 */
export function upstreamRequestHeaders(headers: IncomingHttpHeaders, client: ClientSide): Record<string, string | string[]> {
  const out = endToEnd(headers, ['host', 'expect', 'x-forwarded-for', 'x-forwarded-proto', 'x-forwarded-host']);
  const forwardedFor = [headers['x-forwarded-for'], client.remoteAddress].flat().filter((v): v is string => v !== undefined && v !== '');
  if (forwardedFor.length > 0) out['x-forwarded-for'] = forwardedFor.join(', ');
  out['x-forwarded-proto'] = first(headers['x-forwarded-proto']) ?? (client.encrypted ? 'https' : 'http');
  const host = first(headers['x-forwarded-host']) ?? headers.host;
  if (host !== undefined) out['x-forwarded-host'] = host;
  return out;
}

/** What the front sends back: the upstream's end-to-end fields. */
export function clientResponseHeaders(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  return endToEnd(headers, []);
}

function first(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}
