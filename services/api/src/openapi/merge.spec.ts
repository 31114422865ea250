import { describe, expect, it } from 'vitest';
import { mergeDocuments, type OpenApiDocument } from './merge.js';

const options = { title: 'Rampart', description: 'all of it' };
const bearer = { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' };

describe(mergeDocuments.name, () => {
  const attestation: OpenApiDocument = {
    openapi: '3.0.0',
    tags: [{ name: 'devices' }],
    paths: {
      '/v1/devices/{id}': {
        get: {
          operationId: 'DevicesController_get',
          responses: { '200': { content: { 'application/json': { schema: { $ref: '#/components/schemas/Device' } } } } },
        },
      },
    },
    components: {
      schemas: { Device: { type: 'object', properties: { id: { type: 'string' } } }, Page: { type: 'object' } },
      securitySchemes: { bearer },
    },
  };
  const telemetry: OpenApiDocument = {
    openapi: '3.0.0',
    tags: [{ name: 'devices' }, { name: 'telemetry' }],
    paths: {
      '/v1/devices/{id}/telemetry': {
        get: {
          operationId: 'DevicesController_get',
          responses: {
            '200': { content: { 'application/json': { schema: { items: { $ref: '#/components/schemas/Device' } } } } },
          },
        },
      },
      '/v1/devices/{id}': { delete: { operationId: 'TelemetryController_forget' } },
    },
    components: {
      schemas: { Device: { type: 'object', properties: { lastSeen: { type: 'number' } } }, Page: { type: 'object' } },
      securitySchemes: { bearer },
    },
  };
  const merged = mergeDocuments(
    [
      { service: 'attestation', document: attestation },
      { service: 'telemetry', document: telemetry },
    ],
    options,
  );

  it('keeps every path and method of every service', () => {
    expect(Object.keys(merged.paths!)).toEqual(['/v1/devices/{id}', '/v1/devices/{id}/telemetry']);
    expect(Object.keys(merged.paths!['/v1/devices/{id}']!).sort()).toEqual(['delete', 'get']);
  });

  it('prefixes a schema name two services define differently, and rewrites each service’s references', () => {
    expect(Object.keys(merged.components!['schemas']!).sort()).toEqual(['Page', 'attestation_Device', 'telemetry_Device']);
    expect(JSON.stringify(merged.paths!['/v1/devices/{id}']!['get'])).toContain('#/components/schemas/attestation_Device');
    expect(JSON.stringify(merged.paths!['/v1/devices/{id}/telemetry'])).toContain('#/components/schemas/telemetry_Device');
    expect(JSON.stringify(merged)).not.toContain('"#/components/schemas/Device"');
  });

  it('keeps one copy of a component every service defines the same way', () => {
    expect(merged.components!['securitySchemes']).toEqual({ bearer });
    expect(merged.components!['schemas']!['Page']).toEqual({ type: 'object' });
  });

  it('prefixes an operationId two services use, and leaves unique ones', () => {
    expect(merged.paths!['/v1/devices/{id}']!['get']).toMatchObject({ operationId: 'attestation_DevicesController_get' });
    expect(merged.paths!['/v1/devices/{id}/telemetry']!['get']).toMatchObject({ operationId: 'telemetry_DevicesController_get' });
    expect(merged.paths!['/v1/devices/{id}']!['delete']).toMatchObject({ operationId: 'TelemetryController_forget' });
  });

  it('lists each tag once and titles the document as told', () => {
    expect(merged.tags).toEqual([{ name: 'devices' }, { name: 'telemetry' }]);
    expect(merged.info).toEqual({ title: 'Rampart', description: 'all of it', version: '1' });
  });

  it('leaves its inputs untouched', () => {
    expect(attestation.components!['schemas']).toHaveProperty('Device');
    expect(JSON.stringify(attestation)).toContain('"#/components/schemas/Device"');
  });
});
