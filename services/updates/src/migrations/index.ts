import { CreateUpdates1734000000000 } from './1734000000000-create-updates.js';
import { Fleet1734000000001 } from './1734000000001-fleet.js';

export const updatesMigrations = [CreateUpdates1734000000000, Fleet1734000000001];
