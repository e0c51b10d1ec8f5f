/**
 * The job kinds, by name: the one place the engine dispatches on a job's kind. A job module's
 * `kind` names one of them (or is `family`: a job whose kind depends on its parameters, resolved
 * by `select`); streaming jobs have no module and their own kind.
 */
import type { JobDefinition } from '../job-definition.ts';
import type { ReduceMode } from '../reduce-tree.ts';
import type { JobKind, ReduceStepRunner } from './job-kind.ts';
import { keyedKind } from './keyed.ts';
import { sortedKind } from './sorted.ts';
import { streamingKind } from './streaming.ts';

export { streamingKind };
import { summaryKind } from './summary.ts';

/** The kinds a job module may declare. */
const MODULE_KINDS = { summary: summaryKind, sorted: sortedKind, keyed: keyedKind } as const;

/** Every reduce step a node runs, by the mode a reduce task names. */
const REDUCE_STEPS: Partial<Record<ReduceMode, ReduceStepRunner>> = Object.assign({}, ...[...Object.values(MODULE_KINDS), streamingKind].map((k) => k.reduceSteps));

/** Whether a module's `kind` is one the engine runs (`family` picks one by its parameters). */
export function isModuleKind(kind: unknown): boolean {
  return typeof kind === 'string' && (kind === 'family' || Object.hasOwn(MODULE_KINDS, kind));
}

/** The kind of a concrete job definition. */
export function kindOf(def: JobDefinition): JobKind<JobDefinition> {
  // Each kind takes the definition of its own name (JobDefinition is a union on `kind`).
  return MODULE_KINDS[def.kind] as unknown as JobKind<JobDefinition>;
}

export function reduceStepOf(mode: ReduceMode): ReduceStepRunner {
  return REDUCE_STEPS[mode]!;
}
