/** The guided lessons, in menu order. */
import { closedForm } from './closed-form.ts';
import { lambdaLinear } from './lambda-linear.ts';
import { layerChoice } from './layer-choice.ts';
import type { Lesson } from './lesson.ts';
import { loraInit } from './lora-init.ts';
import { ntkPredicts } from './ntk-predicts.ts';

export const LESSONS: readonly Lesson[] = [lambdaLinear, ntkPredicts, layerChoice, loraInit, closedForm];

/** Returns the lesson with this id, or null for null or an unknown id. */
export function findLesson(id: string | null): Lesson | null {
  return LESSONS.find((lesson) => lesson.id === id) ?? null;
}
