import { CreateUpdates1734000000000 } from './1734000000000-create-updates.js';

export const updatesMigrations = [CreateUpdates1734000000000];
