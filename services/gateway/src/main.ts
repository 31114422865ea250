import 'reflect-metadata';
import { gatewayService } from './start-gateway.js';

await gatewayService.main();
