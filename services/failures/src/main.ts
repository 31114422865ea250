import 'reflect-metadata';
import { failuresService } from './start-failures.js';

await failuresService.main();
