import { Body, Controller, Get, HttpCode, Inject, Param, Patch, Post, Put, Query, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import { z } from 'zod';
import { Ids, MAX_ROOT_METADATA_BYTES, text } from '@rampart/contracts';
import { InvalidRequestError, Requires, ZodValidationPipe, type TenantPrincipal } from '@rampart/service-kit';
import { FleetRepository } from '../fleet/fleet.repository.js';
import { FleetService } from '../fleet/fleet.service.js';
import { ImagesRepository } from '../images/images.repository.js';
import { ImagesService } from '../images/images.service.js';
import { TenantMetadata } from '../tuf/tenant-metadata.js';

type WithPrincipal = { principal: TenantPrincipal; body?: unknown };

const SHA256 = Ids.sha256;
const DEVICE_ID = Ids.device;
const ID = Ids.uuid;
/** The TUF metadata files a device asks for by name. */
const METADATA_NAME = z.string().regex(/^(?:[1-9][0-9]{0,8}\.root|timestamp|snapshot|targets)\.json$/, 'a TUF metadata file name');

const ImageQuery = z
  .object({ component: text({ max: 80 }).optional(), status: z.enum(['uploaded', 'released', 'revoked']).optional() })
  .strict();
const ReleaseBody = z
  .object({ osFeed: z.enum(['retail', 'retail-eval']).optional() })
  .strict()
  .default({});
const ProductBody = z.object({ name: text({ min: 1, max: 80 }), description: text({ max: 500, multiline: true }).default('') }).strict();
const GroupBody = z
  .object({
    productId: ID,
    name: text({ min: 1, max: 80 }),
    updatePolicy: z.enum(['all', 'no-app-updates', 'none']).default('all'),
    osFeed: z.enum(['retail', 'retail-eval']).default('retail'),
  })
  .strict();
const GroupChange = z
  .object({
    updatePolicy: z.enum(['all', 'no-app-updates', 'none']).optional(),
    osFeed: z.enum(['retail', 'retail-eval']).optional(),
    window: z
      .object({ startHour: z.number().int().min(0).max(23), endHour: z.number().int().min(1).max(24) })
      .strict()
      .refine((w) => w.startHour !== w.endHour, 'an empty window would never update')
      .nullable()
      .optional(),
  })
  .strict();
const GroupQuery = z.object({ productId: ID.optional() }).strict();
const DeploymentBody = z
  .object({ groupId: ID, images: z.array(SHA256).min(1).max(33), rollout: z.record(z.string(), z.unknown()).optional() })
  .strict();
const DeploymentQuery = z.object({ groupId: ID }).strict();
/**
 * An offline-signed root as `rampart ceremony tuf-root merge` writes it: only its shape here; every signature,
 * threshold, version and key is checked by TenantMetadata.importRoot against what the tenant trusts now.
 */
const RootBody = z
  .object({ signed: z.object({ _type: z.literal('root') }).loose(), signatures: z.array(z.unknown()).min(1) })
  .loose()
  .refine((root) => JSON.stringify(root).length <= MAX_ROOT_METADATA_BYTES, `a root of at most ${MAX_ROOT_METADATA_BYTES} bytes`);
const ActionBody = z.object({ reason: text({ min: 1, max: 500, multiline: true }).default('by hand') }).strict();

/** Images, signed metadata, products, device groups and deployments of the caller's tenant (OpenAPI at /docs). */
@ApiTags('updates')
@ApiBearerAuth()
@Requires('Reader')
@Controller('v1')
export class UpdatesController {
  constructor(
    @Inject(ImagesService) private readonly images: ImagesService,
    @Inject(ImagesRepository) private readonly imageRows: ImagesRepository,
    @Inject(FleetService) private readonly fleet: FleetService,
    @Inject(FleetRepository) private readonly fleetRows: FleetRepository,
    @Inject(TenantMetadata) private readonly metadata: TenantMetadata,
  ) {}

  @Post('images')
  @Requires('Contributor')
  @ApiOperation({ summary: 'Upload a signed image (application/octet-stream); the same bytes again answer the stored image' })
  async upload(@Req() req: WithPrincipal) {
    // Only application/octet-stream is read as raw bytes; any other type arrives parsed, or not at all.
    if (!Buffer.isBuffer(req.body)) throw new InvalidRequestError('send the image as application/octet-stream');
    const { image } = await this.images.upload(req.principal.tenantId, req.body);
    return image;
  }

  @Get('images')
  @ApiOperation({ summary: 'Images of this tenant, newest first' })
  list(@Req() req: WithPrincipal, @Query(new ZodValidationPipe(ImageQuery)) q: z.infer<typeof ImageQuery>) {
    return this.imageRows.list(req.principal.tenantId, q);
  }

  @Get('images/:sha256')
  image(@Req() req: WithPrincipal, @Param('sha256', new ZodValidationPipe(SHA256)) sha256: string) {
    return this.images.image(req.principal.tenantId, sha256);
  }

  @Post('images/:sha256/release')
  @Requires('Contributor')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Release: signed into the targets, announced (with its measurement) to the attestation service; `{ "osFeed": "retail-eval" | "retail" }` also puts an OS image on a feed',
  })
  release(
    @Req() req: WithPrincipal,
    @Param('sha256', new ZodValidationPipe(SHA256)) sha256: string,
    @Body(new ZodValidationPipe(ReleaseBody)) body: z.infer<typeof ReleaseBody>,
  ) {
    return this.images.release(req.principal.tenantId, sha256, body.osFeed);
  }

  @Post('images/:sha256/revoke')
  @Requires('Contributor')
  @HttpCode(200)
  @ApiOperation({ summary: 'Revoke: out of the targets and every director answer; devices running it fail attestation' })
  revoke(@Req() req: WithPrincipal, @Param('sha256', new ZodValidationPipe(SHA256)) sha256: string) {
    return this.images.revoke(req.principal.tenantId, sha256);
  }

  @Get('metadata/:name')
  @ApiOperation({ summary: "This tenant's TUF metadata: N.root.json, timestamp.json, snapshot.json, targets.json" })
  metadataFile(@Req() req: WithPrincipal, @Param('name', new ZodValidationPipe(METADATA_NAME)) name: string) {
    return this.metadata.document(req.principal.tenantId, name);
  }

  @Get('tuf/online-keys')
  @ApiOperation({
    summary:
      'The public keys of the roles this platform signs online (targets, snapshot, timestamp, director), as an offline root must list them: what `rampart ceremony tuf-root make --online-keys` reads',
  })
  onlineKeys(@Req() req: WithPrincipal) {
    return this.metadata.onlineKeys(req.principal.tenantId);
  }

  @Post('tuf/root')
  @Requires('Administrator')
  @HttpCode(200)
  @ApiOperation({
    summary:
      'Import an offline-signed root (N.root.json from `rampart ceremony tuf-root merge`): version 1 signed by its own threshold, a later one by the current root’s threshold and its own (TUF §5.3.4), listing exactly this platform’s online keys; refused with ROOT_REJECTED otherwise, nothing stored',
  })
  importRoot(@Req() req: WithPrincipal, @Body(new ZodValidationPipe(RootBody)) body: z.infer<typeof RootBody>) {
    return this.metadata.importRoot(req.principal.tenantId, JSON.stringify(body));
  }

  @Post('products')
  @Requires('Contributor')
  @ApiOperation({ summary: 'A product, with its Development, Field Test and Production groups' })
  createProduct(@Req() req: WithPrincipal, @Body(new ZodValidationPipe(ProductBody)) body: z.infer<typeof ProductBody>) {
    return this.fleet.createProduct(req.principal.tenantId, body.name, body.description);
  }

  @Get('products')
  products(@Req() req: WithPrincipal) {
    return this.fleetRows.products(req.principal.tenantId);
  }

  @Post('device-groups')
  @Requires('Contributor')
  createGroup(@Req() req: WithPrincipal, @Body(new ZodValidationPipe(GroupBody)) body: z.infer<typeof GroupBody>) {
    return this.fleet.createGroup(req.principal.tenantId, body.productId, body.name, body.updatePolicy, body.osFeed);
  }

  @Get('device-groups')
  groups(@Req() req: WithPrincipal, @Query(new ZodValidationPipe(GroupQuery)) q: z.infer<typeof GroupQuery>) {
    return this.fleetRows.groups(req.principal.tenantId, q.productId);
  }

  @Patch('device-groups/:groupId')
  @Requires('Contributor')
  @ApiOperation({ summary: "Change a group's update policy, OS feed or maintenance window" })
  updateGroup(
    @Req() req: WithPrincipal,
    @Param('groupId', new ZodValidationPipe(ID)) groupId: string,
    @Body(new ZodValidationPipe(GroupChange)) body: z.infer<typeof GroupChange>,
  ) {
    return this.fleet.updateGroup(req.principal.tenantId, groupId, body);
  }

  @Put('device-groups/:groupId/devices/:deviceId')
  @Requires('Contributor')
  @HttpCode(204)
  @ApiOperation({ summary: 'Move a claimed device into this group' })
  async assign(
    @Req() req: WithPrincipal,
    @Param('groupId', new ZodValidationPipe(ID)) groupId: string,
    @Param('deviceId', new ZodValidationPipe(DEVICE_ID)) deviceId: string,
  ) {
    await this.fleet.assign(req.principal.tenantId, groupId, deviceId);
  }

  @Get('device-groups/:groupId/devices')
  members(@Req() req: WithPrincipal, @Param('groupId', new ZodValidationPipe(ID)) groupId: string) {
    return this.fleet.members(req.principal.tenantId, groupId);
  }

  @Post('deployments')
  @Requires('Contributor')
  @ApiOperation({ summary: "Deploy released images to a group (supersedes the group's current deployment)" })
  deploy(@Req() req: WithPrincipal, @Body(new ZodValidationPipe(DeploymentBody)) body: z.infer<typeof DeploymentBody>) {
    return this.fleet.deploy(req.principal.tenantId, body.groupId, body.images, body.rollout ?? {});
  }

  @Get('deployments')
  @ApiOperation({ summary: "A group's deployments, newest first (the history)" })
  deployments(@Req() req: WithPrincipal, @Query(new ZodValidationPipe(DeploymentQuery)) q: z.infer<typeof DeploymentQuery>) {
    return this.fleet.deployments(req.principal.tenantId, q.groupId);
  }

  @Get('deployments/:id')
  @ApiOperation({ summary: 'A deployment with each device state and counts' })
  status(@Req() req: WithPrincipal, @Param('id', new ZodValidationPipe(ID)) id: string) {
    return this.fleet.status(req.principal.tenantId, id);
  }

  @Post('deployments/:id/:action')
  @Requires('Contributor')
  @HttpCode(200)
  @ApiOperation({ summary: 'pause, resume, abort or rollback' })
  act(
    @Req() req: WithPrincipal,
    @Param('id', new ZodValidationPipe(ID)) id: string,
    @Param('action', new ZodValidationPipe(z.enum(['pause', 'resume', 'abort', 'rollback'])))
    action: 'pause' | 'resume' | 'abort' | 'rollback',
    @Body(new ZodValidationPipe(ActionBody)) body: z.infer<typeof ActionBody>,
  ) {
    return this.fleet.act(req.principal.tenantId, id, action, body.reason);
  }
}
