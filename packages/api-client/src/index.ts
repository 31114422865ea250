export { ApiClient } from './api-client.js';
