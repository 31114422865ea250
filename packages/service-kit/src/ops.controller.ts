import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Public } from './access/access.js';
import type { Readiness } from './health.js';
import type { Observability } from './observability.js';
import { OBSERVABILITY, READINESS } from './tokens.js';

/** Liveness, readiness and the Prometheus scrape endpoint: probes and scrapers carry no credentials. */
@Public()
@Controller()
export class OpsController {
  constructor(
    @Inject(READINESS) private readonly readiness: Readiness,
    @Inject(OBSERVABILITY) private readonly observability: Observability,
  ) {}

  @Get('healthz')
  healthz(): { status: 'ok' } {
    return { status: 'ok' };
  }

  @Get('readyz')
  async readyz(@Res() response: ServerResponse): Promise<void> {
    const report = await this.readiness.report();
    response.statusCode = report.ready ? 200 : 503;
    response.setHeader('content-type', 'application/json');
    response.end(JSON.stringify(report));
  }

  @Get('metrics')
  metrics(@Req() request: IncomingMessage, @Res() response: ServerResponse): void {
    this.observability.handleScrape(request, response);
  }
}
