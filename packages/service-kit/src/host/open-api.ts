import type { INestApplication } from '@nestjs/common';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

/** What a service says about its REST API in its OpenAPI document. */
export interface OpenApiInfo {
  /** `Rampart <service>`. */
  readonly title: string;
  readonly description: string;
  /** Whether routes take a bearer token (every tenant API does; the telemetry document never said so). */
  readonly bearerAuth?: boolean;
}

/** Where every service serves Swagger UI and its document; the API front reads `docs/openapi.json`. */
export const OPENAPI_UI_PATH = 'docs';
export const OPENAPI_DOCUMENT_PATH = 'docs/openapi.json';

/** Builds the service's OpenAPI document from its routes and serves it with Swagger UI. */
export function mountOpenApi(app: INestApplication, info: OpenApiInfo): void {
  let builder = new DocumentBuilder().setTitle(info.title).setVersion('1');
  if (info.bearerAuth === true) builder = builder.addBearerAuth();
  const document = SwaggerModule.createDocument(app, builder.setDescription(info.description).build());
  SwaggerModule.setup(OPENAPI_UI_PATH, app, document, { jsonDocumentUrl: OPENAPI_DOCUMENT_PATH });
}
