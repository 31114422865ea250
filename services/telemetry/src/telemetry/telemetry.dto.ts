import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Ids, METRIC_NAME_PATTERN, decimalInteger, instantMs } from '@rampart/contracts';
import { z } from 'zod';

export const DeviceIdParam = Ids.device;

export const RangeQuery = z
  .object({
    metric: z.string().regex(METRIC_NAME_PATTERN),
    from: instantMs.optional(),
    to: instantMs.optional(),
    limit: decimalInteger({ min: 1, max: 10_000 }).default(1_000),
  })
  .strict();

export const AggregateQuery = z
  .object({
    metric: z.string().regex(METRIC_NAME_PATTERN),
    from: instantMs.optional(),
    to: instantMs.optional(),
    bucketSeconds: decimalInteger({ min: 1, max: 86_400 }).default(60),
  })
  .strict();

export const ListQuery = z
  .object({
    limit: decimalInteger({ min: 1, max: 1_000 }).default(100),
    offset: decimalInteger({ min: 0, max: 1_000_000_000 }).default(0),
  })
  .strict();

export class MetricPointDto {
  @ApiProperty({ example: 'temperature_c' }) metric!: string;
  @ApiProperty({ example: 21.5 }) value!: number;
  @ApiProperty({ description: 'device timestamp, epoch ms' }) ts!: number;
}

export class DeviceLatestDto {
  @ApiProperty() deviceId!: string;
  @ApiProperty({ nullable: true, description: 'when the platform last stored a reading, epoch ms' }) lastSeen!: number | null;
  @ApiProperty({ type: [MetricPointDto] }) metrics!: MetricPointDto[];
}

export class DeviceRangeDto {
  @ApiProperty() deviceId!: string;
  @ApiProperty() metric!: string;
  @ApiProperty({ type: [MetricPointDto] }) points!: MetricPointDto[];
}

export class DeviceLastSeenDto {
  @ApiProperty() deviceId!: string;
  @ApiProperty({ description: 'epoch ms' }) lastSeen!: number;
  @ApiProperty() lastSeq!: number;
  @ApiProperty() readings!: number;
}

export class AggregateBucketDto {
  @ApiProperty({ description: 'bucket start, epoch ms' }) start!: number;
  @ApiProperty() count!: number;
  @ApiProperty() devices!: number;
  @ApiProperty() min!: number;
  @ApiProperty() max!: number;
  @ApiProperty() avg!: number;
}

export class AggregateDto {
  @ApiProperty() metric!: string;
  @ApiProperty() bucketSeconds!: number;
  @ApiProperty({ type: [AggregateBucketDto] }) buckets!: AggregateBucketDto[];
}

export class IngestStatsDto {
  @ApiProperty() readingsStored!: number;
  @ApiProperty() rowsStored!: number;
  @ApiProperty() devices!: number;
}

export class ErrorDto {
  @ApiProperty({ example: 'BAD_REQUEST' }) code!: string;
  @ApiProperty() message!: string;
  @ApiPropertyOptional({ type: [String] }) details?: string[];
}
