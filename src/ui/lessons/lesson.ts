/**
 * The shape of a guided lesson: plain data with TeX strings, so every lesson
 * file reads as text and the tests can check each one.
 *
 * Prose fields may hold inline TeX between single dollar signs, such as
 * "the penalty $\lambda$"; `tex` fields hold one display formula each.
 */
import type { ExperimentSpec } from '../../core/spec.ts';

/** A lab action that a step's button can run besides applying settings. */
export type LessonAction = 'start' | 'restart' | 'runSweep';

export interface LessonStep {
  title: string;
  /** The student's task: the setting to change or the button to press. */
  change: string;
  /** The chart or number to watch, and what it shows. */
  watch: string;
  /** Display formulas shown with the step. */
  tex?: readonly string[];
  /**
   * The data-testid values of the controls and charts this step is about.
   * The panel highlights them and scrolls each into view in order.
   */
  highlight: readonly string[];
  /** Settings that the step's "Set it for me" button applies. */
  apply?: Partial<ExperimentSpec>;
  /** A lab action that the step's button runs after applying `apply`. */
  action?: LessonAction;
}

export interface Lesson {
  /** The id in links, as in `?lesson=lambda-linear`. */
  id: string;
  title: string;
  /** Paragraphs that open the lesson, before the steps. */
  intro: readonly string[];
  /** Display formulas shown with the introduction. */
  tex: readonly string[];
  /** The prepared experiment, applied over the defaults when the lesson opens. */
  spec: Partial<ExperimentSpec>;
  steps: readonly LessonStep[];
}

/**
 * The sizes every lesson starts from, small so that a run takes a minute or two.
 * NOTE: an estimate from the headless lab on Node's wasm backend, where 100 steps
 * with the linearized model took about 75 s on 2 CPU cores. A browser on a
 * software GPU is slower and one on a real GPU faster.
 */
export const SMALL_RUN: Partial<ExperimentSpec> = {
  trainSize: 32,
  evalSize: 32,
  probeSize: 16,
  batchSize: 16,
};
