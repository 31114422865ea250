import { readFile } from 'node:fs/promises';
import { Option, type Command } from 'commander';
import { print } from '../output/format.js';
import { imageView, type ImageRow } from '../output/views.js';
import { outputOption } from '../options.js';
import { resolveImage } from '../resolve.js';
import { seg, withSession } from '../session.js';

export const IMAGE_STATUSES = ['uploaded', 'released', 'revoked'] as const;
export const OS_FEEDS = ['retail', 'retail-eval'] as const;

export function registerImage(program: Command): void {
  const image = program
    .command('image')
    .description('Signed OS and app images (<image> is a digest, a unique prefix or component@version)');
  image
    .command('upload <file>')
    .description('upload a signed image (.rimg)')
    .addOption(outputOption())
    .action(
      withSession(async (s, file: string) => {
        const bytes = new Uint8Array(await readFile(file));
        await print(s.output, await s.client.upload<ImageRow>('/v1/images', s.token, bytes), imageView);
      }),
    );
  image
    .command('list')
    .description('images, newest first')
    .option('--component <component>', 'one component (os, app:<name>)')
    .addOption(new Option('--status <status>', 'one status').choices(IMAGE_STATUSES))
    .addOption(outputOption())
    .action(
      withSession(async (s, o: { component?: string; status?: string }) => {
        const query = new URLSearchParams({
          ...(o.component ? { component: o.component } : {}),
          ...(o.status ? { status: o.status } : {}),
        });
        await print(s.output, await s.get<ImageRow[]>(`/v1/images${query.size === 0 ? '' : `?${query}`}`), imageView);
      }),
    );
  image
    .command('release <image>')
    .description('sign it into the targets and announce it; --feed also puts an OS image on an OS feed')
    .addOption(new Option('--feed <feed>', 'OS feed (retail-eval first, then retail)').choices(OS_FEEDS))
    .addOption(outputOption())
    .action(
      withSession(async (s, query: string, o: { feed?: string }) => {
        const digest = await resolveImage(s, query);
        const body = o.feed === undefined ? undefined : { osFeed: o.feed };
        await print(s.output, await s.send<ImageRow>('POST', `/v1/images/${seg(digest)}/release`, body), imageView);
      }),
    );
  image
    .command('revoke <image>')
    .description('take it out of every answer')
    .addOption(outputOption())
    .action(
      withSession(async (s, query: string) => {
        const digest = await resolveImage(s, query);
        await print(s.output, await s.send<ImageRow>('POST', `/v1/images/${seg(digest)}/revoke`), imageView);
      }),
    );
}
