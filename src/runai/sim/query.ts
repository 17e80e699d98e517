// The simulator's query handling as the Run:ai API documents it: filterBy, sortBy, paging, and
// typed parameters that answer 400 when malformed.

import { ERROR_MESSAGES, FILTER_OPERATORS, type FilterOperator } from '../api.js';
import type { Row } from './rows.js';

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string = ERROR_MESSAGES[status] ?? 'Error',
    readonly details?: string,
  ) {
    super(message);
  }
}

const FILTER = new RegExp(`^(\\w+)(${FILTER_OPERATORS.map((op) => op.replace(/[$^]/g, '\\$&')).join('|')})(.+)$`);

interface Filter {
  readonly field: string;
  readonly op: FilterOperator;
  readonly value: string;
}

function parseFilters(text: string | undefined, fields: readonly string[], maxFilters: number | undefined): Filter[] {
  if (text === undefined || text === '') return [];
  const items = text.split(',');
  if (maxFilters !== undefined && items.length > maxFilters) {
    throw new ApiError(400, `filterBy accepts at most ${maxFilters} items, got ${items.length}`);
  }
  return items.map((item) => {
    const match = FILTER.exec(item);
    if (!match || !fields.includes(match[1]!)) throw new ApiError(400, `Invalid filterBy item: ${item}`);
    return { field: match[1]!, op: match[2] as FilterOperator, value: match[3]! };
  });
}

function compare(a: unknown, b: unknown): number {
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  const sa = String(a);
  const sb = String(b);
  const na = Number(sa);
  const nb = Number(sb);
  if (sa !== '' && sb !== '' && Number.isFinite(na) && Number.isFinite(nb)) return na - nb;
  const da = Date.parse(sa);
  const db = Date.parse(sb);
  if (/^\d{4}-\d{2}-\d{2}/.test(sa) && /^\d{4}-\d{2}-\d{2}/.test(sb) && !Number.isNaN(da) && !Number.isNaN(db)) return da - db;
  return sa < sb ? -1 : sa > sb ? 1 : 0;
}

function matches(actual: unknown, filter: Filter): boolean {
  if (actual === null || actual === undefined) return filter.op === '!=' || filter.op === '!@';
  const text = String(actual);
  switch (filter.op) {
    case '==':
      return text === filter.value;
    case '!=':
      return text !== filter.value;
    case '<=':
      return compare(actual, filter.value) <= 0;
    case '>=':
      return compare(actual, filter.value) >= 0;
    case '=@':
      return text.includes(filter.value);
    case '!@':
      return !text.includes(filter.value);
    case '=^':
      return text.startsWith(filter.value);
    case '=$':
      return text.endsWith(filter.value);
  }
}

/** The value a filter or sort field refers to in a workload or pod row. */
function fieldOf(row: Row, field: string): unknown {
  switch (field) {
    case 'allocatedGPU':
      return (row['allocatedResources'] as Row | null)?.['gpu'];
    case 'nodepool':
      return (row['currentNodePools'] as unknown[] | undefined)?.[0];
    case 'currentNodepool':
      return row['currentNodePool'];
    default:
      return row[field];
  }
}

export function integerParam(query: URLSearchParams, name: string, min: number, max: number, fallback: number): number {
  const text = query.get(name);
  if (text === null || text === '') return fallback;
  if (!/^-?\d+$/.test(text)) throw new ApiError(400, `${name} must be an integer, got ${text}`);
  const value = Number(text);
  if (value < min || value > max) throw new ApiError(400, `${name} must be between ${min} and ${max}, got ${value}`);
  return value;
}

export function enumParam<T extends string>(query: URLSearchParams, name: string, allowed: readonly T[], fallback: T | undefined): T | undefined {
  const text = query.get(name);
  if (text === null || text === '') return fallback;
  if (!allowed.includes(text as T)) throw new ApiError(400, `${name} must be one of ${allowed.join(', ')}, got ${text}`);
  return text as T;
}

interface Page {
  readonly rows: Row[];
  readonly next: number | undefined;
}

/** Filters, sorts and slices rows as the listing endpoints do. `next` is absent on the last page. */
export function listPage(rows: Row[], query: URLSearchParams, fields: readonly string[], maxFilters: number | undefined): Page {
  const offset = integerParam(query, 'offset', 0, 2 ** 31 - 1, 0);
  const limit = integerParam(query, 'limit', 1, 500, 50);
  const sortBy = enumParam(query, 'sortBy', fields, undefined);
  const order = enumParam(query, 'sortOrder', ['asc', 'desc'], 'asc');
  const filters = parseFilters(query.get('filterBy') ?? undefined, fields, maxFilters);
  const search = query.get('search')?.toLowerCase();
  let selected = rows.filter((row) => filters.every((f) => matches(fieldOf(row, f.field), f)));
  if (search) selected = selected.filter((row) => String(row['name'] ?? '').toLowerCase().includes(search));
  if (sortBy !== undefined) {
    const sign = order === 'desc' ? -1 : 1;
    const keyed = selected.map((row) => ({ row, key: sortKey(fieldOf(row, sortBy)) }));
    // Array.prototype.sort is stable: ties keep creation order, so paging a sorted list is consistent.
    keyed.sort((a, b) => sortValue(a.key, b.key, sign));
    selected = keyed.map((k) => k.row);
  }
  const page = selected.slice(offset, offset + limit);
  return { rows: page, next: offset + limit < selected.length ? offset + limit : undefined };
}

/** A sortable key: numbers and date-times as numbers, other text as text, missing as undefined. */
function sortKey(value: unknown): number | string | undefined {
  if (value === null || value === undefined) return undefined;
  if (typeof value === 'number') return value;
  const text = String(value);
  if (text !== '' && Number.isFinite(Number(text))) return Number(text);
  if (/^\d{4}-\d{2}-\d{2}/.test(text) && !Number.isNaN(Date.parse(text))) return Date.parse(text);
  return text;
}

function sortValue(a: number | string | undefined, b: number | string | undefined, sign: number): number {
  if (a === undefined || b === undefined) return a === b ? 0 : a === undefined ? 1 : -1;
  if (typeof a === 'number' && typeof b === 'number') return sign * (a - b);
  const sa = String(a);
  const sb = String(b);
  return sign * (sa < sb ? -1 : sa > sb ? 1 : 0);
}

export function booleanParam(query: URLSearchParams, name: string): boolean | undefined {
  const text = query.get(name);
  if (text === null || text === '') return undefined;
  if (text !== 'true' && text !== 'false') throw new ApiError(400, `${name} must be true or false, got ${text}`);
  return text === 'true';
}

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

export function timeParam(query: URLSearchParams, name: string): number {
  const text = query.get(name);
  if (text === null || text === '') throw new ApiError(400, ERROR_MESSAGES[400], `${name} is required`);
  const ms = Date.parse(text);
  if (!ISO_8601.test(text) || Number.isNaN(ms)) throw new ApiError(400, `${name} must be an ISO 8601 date-time, got ${text}`);
  return ms;
}
