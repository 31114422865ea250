import type { Command } from 'commander';
import { outputOption } from '../options.js';
import { withSession } from '../session.js';

export function registerMeasurement(program: Command): void {
  const measurement = program.command('measurement').description('Known-good boot measurements (platform operator)');
  measurement
    .command('release <stage> <sha256>')
    .description('mark a measurement known-good (stage: rom, bootloader, security-monitor, os or app:<name>)')
    .option('--image-version <version>', 'image version')
    .action(
      withSession(async (s, stage: string, sha256: string, o: { imageVersion?: string }) => {
        await s.send('PUT', '/v1/measurements', {
          stage,
          sha256,
          status: 'released',
          ...(o.imageVersion ? { imageVersion: o.imageVersion } : {}),
        });
        process.stdout.write(`${stage} ${sha256.slice(0, 12)} released\n`);
      }),
    );
  measurement
    .command('revoke <stage> <sha256>')
    .description('revoke a measurement')
    .action(
      withSession(async (s, stage: string, sha256: string) => {
        await s.send('PUT', '/v1/measurements', { stage, sha256, status: 'revoked' });
        process.stdout.write(`${stage} ${sha256.slice(0, 12)} revoked\n`);
      }),
    );
  measurement
    .command('release-demo-images')
    .description('mark the emulator image set known-good')
    .addOption(outputOption())
    .action(
      withSession(async (s) => {
        const { demoKnownGood } = await import('@rampart/emulator');
        for (const image of demoKnownGood())
          await s.send('PUT', '/v1/measurements', {
            stage: image.stage,
            sha256: image.sha256,
            status: 'released',
            imageVersion: image.imageVersion,
          });
        process.stdout.write(`${demoKnownGood().length} demo measurements released\n`);
      }),
    );
}
