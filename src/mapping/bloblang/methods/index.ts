// Every Bloblang method sluice implements, by name.
import type { MethodSpec } from '../registry.js';
import { CORE } from './core.js';
import { PARSING } from './parsing.js';
import { STRINGS } from './strings.js';
import { STRUCTURED } from './structured.js';
import { TIME } from './time.js';

export const METHODS: Readonly<Record<string, MethodSpec>> = Object.freeze({ ...CORE, ...PARSING, ...STRINGS, ...STRUCTURED, ...TIME });
