export {
  DEFAULT_DISCOVERY_INTERVAL_MS,
  DEFAULT_DOCUMENT_REFRESH_MS,
  DEFAULT_HTTP_PORT,
  DEFAULT_UPSTREAM_CONNECT_TIMEOUT_MS,
  DEFAULT_UPSTREAM_TIMEOUT_MS,
  UPSTREAMS,
  apiEnvSchema,
  apiConfig,
  loadApiConfig,
} from './api.config.js';
export type { ApiConfig, ApiConfigInput, UpstreamName } from './api.config.js';
export { FRONT_ROUTES, startApi } from './start-api.js';
export type { RunningApi } from './start-api.js';
export { RouteConflictError, RouteTable, routesOfDocument } from './routing/route-table.js';
export type { DeclaredRoute, RouteMatch } from './routing/route-table.js';
export { mergeDocuments } from './openapi/merge.js';
export type { OpenApiDocument, ServiceDocument } from './openapi/merge.js';
export { UPSTREAM_DOCUMENT_PATH, UpstreamCatalog } from './upstreams/upstream-catalog.js';
export type { UpstreamState } from './upstreams/upstream-catalog.js';
