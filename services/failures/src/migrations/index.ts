import { CreateFailures1733000000000 } from './1733000000000-create-failures.js';

export const failuresMigrations = [CreateFailures1733000000000];
