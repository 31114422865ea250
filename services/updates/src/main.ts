import 'reflect-metadata';
import { updatesService } from './start-updates.js';

await updatesService.main();
