// Generates charts/rampart/values.schema.json from charts/rampart/values.yaml.
//
// Every value must be documented with a `## @param <path> [modifiers] <description>`
// comment (Bitnami's convention). A documented object is free-form (resources,
// labels); an undocumented one is described key by key and refuses unknown
// keys, so a misspelt value fails `helm install` instead of being ignored.
// Modifiers: [nullable] (also null), [enum:a|b|c] (one of these).
//
//   node scripts/chart-schema.mjs           write the schema
//   node scripts/chart-schema.mjs --check   exit 1 if the committed schema is stale
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const chart = join(dirname(fileURLToPath(import.meta.url)), '..', 'charts', 'rampart');
const valuesText = readFileSync(join(chart, 'values.yaml'), 'utf8');
const PARAM = /^\s*## @param ([A-Za-z0-9_.]+)((?:\s+\[[^\]]+\])*)\s+(.+)$/;

/** A string value that must be set: what a required-when rule asks of a nullable string. */
const SET = { type: 'string', minLength: 1 };
/** A nullable string left unset: what a refused-with rule asks of it (maxLength holds for strings only). */
const UNSET = { type: ['string', 'null'], maxLength: 0 };
/** A token's slot id: digits in a string, as Helm keeps them (a number would be a float64 and lose a large id). */
const SLOT = { type: 'string', pattern: '^[0-9]+$' };

/**
 * Rules across values, which one value's @param comment cannot say (templates/_helpers.tpl's validateValues
 * says the rest, and these again in words). Keys in a vendor's token (keys.provider=pkcs11, no development
 * SoftHSM2) need the module, the token (label or slot), the PIN's Secret and the platform CA's Secret.
 */
const RULES = [
  {
    if: {
      required: ['keys'],
      properties: { keys: { properties: { provider: { const: 'pkcs11' }, softhsm: { properties: { enabled: { const: false } } } } } },
    },
    then: {
      properties: {
        keys: {
          properties: {
            pkcs11: {
              properties: { module: SET, pin: { properties: { existingSecret: SET } } },
              anyOf: [{ properties: { tokenLabel: SET } }, { properties: { slot: SLOT } }],
            },
            platformCa: { properties: { existingSecret: SET } },
          },
        },
      },
    },
  },
  // A slot, when given, is a slot id.
  { properties: { keys: { properties: { pkcs11: { properties: { slot: { anyOf: [UNSET, SLOT] } } } } } } },
  // The development token (keys.softhsm) is SoftHSM2's, by its label, under its generated PIN: a vendor's module,
  // its volume, another PIN's Secret or a slot would each be ignored or break it.
  {
    if: { required: ['keys'], properties: { keys: { properties: { softhsm: { properties: { enabled: { const: true } } } } } } },
    then: {
      properties: {
        keys: {
          properties: {
            pkcs11: {
              properties: {
                module: UNSET,
                slot: UNSET,
                moduleVolume: { maxProperties: 0 },
                pin: { properties: { existingSecret: UNSET } },
              },
            },
          },
        },
      },
    },
  },
];

/** path → { description, nullable, enum } from the @param comments. */
function params(text) {
  const found = new Map();
  for (const line of text.split('\n')) {
    const match = PARAM.exec(line);
    if (match === null) continue;
    const [, path, modifierText, description] = match;
    const modifiers = [...modifierText.matchAll(/\[([^\]]+)\]/g)].map((m) => m[1]);
    const enumModifier = modifiers.find((m) => m.startsWith('enum:'));
    found.set(path, {
      description: description.trim(),
      nullable: modifiers.includes('nullable'),
      enum: enumModifier === undefined ? undefined : enumModifier.slice('enum:'.length).split('|'),
    });
  }
  return found;
}

function typeOf(value) {
  if (Array.isArray(value)) return 'array';
  if (value === null) return 'null';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function leaf(value, param) {
  const type = typeOf(value);
  const schema = { description: param.description };
  if (type !== 'null') schema.type = param.nullable ? [type, 'null'] : type;
  if (type === 'integer' && param.nullable) schema.type = ['integer', 'null'];
  if (param.enum !== undefined) schema.enum = param.enum;
  return schema;
}

function describe(value, path, documented, problems) {
  const param = documented.get(path);
  if (param !== undefined) {
    documented.delete(path);
    return leaf(value, param);
  }
  if (typeOf(value) !== 'object') {
    problems.push(`${path}: no "## @param ${path} <description>" comment`);
    return {};
  }
  const properties = {};
  for (const [key, child] of Object.entries(value)) {
    properties[key] = describe(child, path === '' ? key : `${path}.${key}`, documented, problems);
  }
  return { type: 'object', properties, additionalProperties: false };
}

const documented = params(valuesText);
const problems = [];
const root = describe(parse(valuesText), '', documented, problems);
for (const path of documented.keys()) problems.push(`${path}: documented, but not in values.yaml`);
if (problems.length > 0) {
  process.stderr.write(`values.yaml:\n  ${problems.join('\n  ')}\n`);
  process.exit(1);
}
// Helm passes `global` to every chart; allow it.
root.properties.global = { type: 'object', description: 'Values shared with subcharts (Helm convention)' };
root.allOf = RULES;
const schema = `${JSON.stringify({ $schema: 'http://json-schema.org/draft-07/schema#', title: 'Rampart chart values', ...root }, null, 2)}\n`;
const target = join(chart, 'values.schema.json');
if (process.argv.includes('--check')) {
  const committed = readFileSync(target, 'utf8');
  if (committed !== schema) {
    process.stderr.write('charts/rampart/values.schema.json is stale: run node scripts/chart-schema.mjs\n');
    process.exit(1);
  }
} else {
  writeFileSync(target, schema);
}
