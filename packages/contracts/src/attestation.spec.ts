import { describe, expect, it } from 'vitest';
import { BootStageSchema } from './attestation.js';

describe('BootStageSchema', () => {
  it('takes the fixed stages and app:<name>', () => {
    for (const stage of ['rom', 'bootloader', 'security-monitor', 'os', 'app:sensor', 'app:a-1'])
      expect(BootStageSchema.safeParse(stage).success, stage).toBe(true);
  });

  it('names every valid stage when refusing one', () => {
    for (const stage of ['kernel', 'app:', 'app:Sensor', 'os ', 'ROM']) {
      const result = BootStageSchema.safeParse(stage);
      expect(result.success, stage).toBe(false);
      expect(result.error?.issues[0]?.message).toBe(
        'a boot stage: rom, bootloader, security-monitor, os or app:<name> (lower-case letters, digits, -)',
      );
    }
  });
});
