/** The labelled fine-tuning tasks the lab ships. */
export const TASK_NAMES = ['brown-genre-2', 'brown-genre-4', 'afinn-valence'] as const;

export type TaskName = (typeof TASK_NAMES)[number];
