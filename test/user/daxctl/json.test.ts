/**
 * daxctl's JSON output: json-c's pretty printer and ndctl's number formats
 * (util/json.c display_size, display_hex, util_display_json_array).
 */
import { describe, expect, it } from 'vitest';
import { displayHex, displayJsonArray, displaySize, jint, jsonHex, jsonSize, toJsonPretty, UTIL_JSON_HUMAN, type JsonValue } from '../../../src/user/daxctl/json.ts';
import { parseSize64 } from '../../../src/user/daxctl/options.ts';

const MiB = 2 ** 20;
const GiB = 2 ** 30;

describe('display_size (-u)', () => {
  it('below 5000 KiB: the plain number', () => {
    expect(displaySize(0)).toBe('0');
    expect(displaySize(2 * MiB)).toBe('2097152');
    expect(displaySize(5000 * 1024 - 1)).toBe('5119999');
  });

  it('up to 2 GiB in MiB with MB, rounded to hundredths', () => {
    expect(displaySize(5000 * 1024)).toBe('"4.88 MiB (5.12 MB)"');
    expect(displaySize(128 * MiB)).toBe('"128.00 MiB (134.22 MB)"');
    expect(displaySize(2 * GiB - 2 * MiB)).toBe('"2046.00 MiB (2145.39 MB)"');
  });

  it('from 2 GiB in GiB with GB', () => {
    expect(displaySize(2 * GiB)).toBe('"2.00 GiB (2.15 GB)"');
    expect(displaySize(16 * GiB)).toBe('"16.00 GiB (17.18 GB)"');
    expect(displaySize(16 * GiB - 384 * MiB)).toBe('"15.63 GiB (16.78 GB)"');
    expect(displaySize(2 ** 40)).toBe('"1024.00 GiB (1099.51 GB)"');
  });
});

describe('display_hex and the size/hex objects', () => {
  it('%#llx in quotes; zero has no 0x', () => {
    expect(displayHex(0)).toBe('"0"');
    expect(displayHex(0x400000000)).toBe('"0x400000000"');
  });

  it('only -u changes how sizes and hex numbers print', () => {
    expect(toJsonPretty(jsonSize(16 * GiB, 0))).toBe('17179869184');
    expect(toJsonPretty(jsonSize(16 * GiB, UTIL_JSON_HUMAN))).toBe('"16.00 GiB (17.18 GB)"');
    expect(toJsonPretty(jsonHex(0x1000, 0))).toBe('4096');
    expect(toJsonPretty(jsonHex(0x1000, UTIL_JSON_HUMAN))).toBe('"0x1000"');
  });
});

describe('json-c pretty printing', () => {
  it('two-space indent, no space after the colon, slashes escaped, nested arrays', () => {
    const v: JsonValue = [
      new Map<string, JsonValue>([
        ['path', '/platform/hmem.0'],
        ['id', jint(0)],
        ['movable', true],
        ['devices', [new Map<string, JsonValue>([['chardev', 'dax0.0']])]],
      ]),
    ];
    expect(toJsonPretty(v)).toBe(
      '[\n  {\n    "path":"\\/platform\\/hmem.0",\n    "id":0,\n    "movable":true,\n    "devices":[\n      {\n        "chardev":"dax0.0"\n      }\n    ]\n  }\n]',
    );
  });

  it('empty containers and string escapes', () => {
    expect(toJsonPretty([])).toBe('[\n]');
    expect(toJsonPretty(new Map())).toBe('{\n}');
    expect(toJsonPretty('a"b\\c\n')).toBe('"a\\"b\\\\c\\n"');
  });

  it('util_display_json_array: a single element under -u loses its brackets', () => {
    const one: JsonValue[] = [new Map<string, JsonValue>([['chardev', 'dax0.1']])];
    expect(displayJsonArray(one, 0)).toBe('[\n  {\n    "chardev":"dax0.1"\n  }\n]\n');
    expect(displayJsonArray(one, UTIL_JSON_HUMAN)).toBe('{\n  "chardev":"dax0.1"\n}\n');
    expect(displayJsonArray([...one, ...one], UTIL_JSON_HUMAN).startsWith('[\n')).toBe(true);
    expect(displayJsonArray([], UTIL_JSON_HUMAN)).toBe('');
  });
});

describe('__parse_size64', () => {
  it('strtoull base 0 with one k/m/g/t suffix; anything else is ULLONG_MAX (-1)', () => {
    expect(parseSize64('4G')).toBe(4 * GiB);
    expect(parseSize64('2m')).toBe(2 * MiB);
    expect(parseSize64('0x200000')).toBe(2 * MiB);
    expect(parseSize64('4096')).toBe(4096);
    expect(parseSize64('0')).toBe(0);
    expect(parseSize64('1T')).toBe(2 ** 40);
    expect(parseSize64('4GB')).toBe(-1);
    expect(parseSize64('abc')).toBe(-1);
    expect(parseSize64('')).toBe(0);
    expect(parseSize64('G')).toBe(0);
  });
});
