export { ApiClient, type ApiResult } from './api-client.js';
export { ApiHttpError, ApiUnreachableError, messageOf, networkCode } from './errors.js';
