import 'reflect-metadata';
import { runServiceMain } from '@rampart/service-kit';
import { loadGatewayConfig } from './gateway/gateway.config.js';
import { startGateway } from './start-gateway.js';

await runServiceMain('gateway', loadGatewayConfig, startGateway);
