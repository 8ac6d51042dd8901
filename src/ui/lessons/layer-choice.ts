/** Lesson: which layers to adapt, seen through the Weyl bounds on the kernel's eigenvalues. */
import { SMALL_RUN, type Lesson } from './lesson.ts';

export const layerChoice: Lesson = {
  id: 'layer-choice',
  title: 'Which layers to adapt',
  intro: [
    'The kernel is a sum over the adapted blocks. Each (layer, module) block $b$ contributes $K_b = J_b J_b^\\top$, where $J_b$ is the Jacobian of the outputs with respect to that block\'s parameters. Every $K_b$ is positive semidefinite, so Weyl\'s inequalities bound the eigenvalues of a subset $S$ by those of its blocks, before the subset\'s kernel is computed.',
    'In this lesson you switch blocks on in the model grid and watch $\\mu_1$, $\\mu_n$ and the bounds move.',
  ],
  tex: [
    'K_S = \\sum_{b \\in S} K_b, \\qquad K_b = J_b J_b^\\top \\succeq 0',
    '\\mu_1(K_S) \\le \\sum_{b \\in S} \\mu_1(K_b), \\qquad \\mu_n(K_S) \\ge \\sum_{b \\in S} \\mu_n(K_b)',
  ],
  spec: {
    ...SMALL_RUN,
    steps: 60,
    adapters: 'q.-.-.-',
  },
  steps: [
    {
      title: 'One block',
      change: 'The lesson starts with LoRA on attn.q of layer 0 only: the model grid marks it with ✓ LoRA.',
      watch:
        'With one block, $K_S = K_b$, so both bounds are exact. In the Weyl chart the largest exact eigenvalue sits on the upper bound and the smallest on the lower bound.',
      highlight: ['model-grid', 'chart-weyl'],
    },
    {
      title: 'Add a second block',
      change: 'Click the attn.v cell of layer 0.',
      watch:
        'In the kernel panel $\\mu_1$ rises but stays at or below $\\mu_1(K_q) + \\mu_1(K_v)$. The upper bound is reached only when the top eigenvectors of the two blocks coincide, so the gap shows how differently the two modules respond to the probe examples.',
      highlight: ['model-grid', 'preview-stats', 'chart-weyl'],
      apply: { adapters: 'qv.-.-.-' },
    },
    {
      title: 'Add a far layer',
      change: 'Switch on attn.q and attn.v of layer 3 as well.',
      watch: 'Adding a PSD block never lowers any eigenvalue, so every $\\mu_i$ is at least as large as before. Watch how close $\\mu_1$ comes to its upper bound now.',
      tex: ['\\mu_i(K_S + K_b) \\ge \\mu_i(K_S) \\quad \\text{for every } i'],
      highlight: ['model-grid', 'preview-stats', 'chart-weyl'],
      apply: { adapters: 'qv.-.-.qv' },
    },
    {
      title: 'The trace adds up exactly',
      change: 'Switch the grid\'s cell value from μ_max to trace.',
      watch:
        'The trace of $K_S$ is the sum of the blocks\' traces with no slack, as the line under the grid says. The trace is also the sum of all eigenvalues, so it bounds $\\mu_1$ from above.',
      tex: ['\\operatorname{tr} K_S = \\sum_{b \\in S} \\operatorname{tr} K_b = \\sum_i \\mu_i(K_S)'],
      highlight: ['model-grid'],
    },
    {
      title: 'Bottom or top?',
      change: 'Adapt only attn.q and attn.v of layer 3, next to the output, and start a run.',
      watch:
        'Compare $\\mu_1$, $\\mu_n$ and $\\kappa_\\lambda$ with the layer-0 choice of step 2 (press Back and set it again to see it). Then run both choices and compare how fast the train loss falls.',
      highlight: ['preview-stats', 'chart-loss'],
      apply: { adapters: '-.-.-.qv' },
      action: 'start',
    },
  ],
};
