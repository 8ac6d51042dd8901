/** Lesson: the NTK at θ₀, through its regularized condition number κ_λ, predicts how well a layer choice fine-tunes. */
import { SMALL_RUN, type Lesson } from './lesson.ts';

export const ntkPredicts: Lesson = {
  id: 'ntk-predicts',
  title: 'The NTK at θ₀ predicts the outcome',
  intro: [
    'Before the first training step, the neural tangent kernel $K$ at $\\theta_0$ already says how fast each direction of the training error can shrink. For squared loss and full-batch gradient descent on the linearized model, the error along the $i$-th eigenvector of $K$ shrinks by the factor $|1 - \\eta(\\mu_i/N + \\lambda)|$ per step. A wide spread of eigenvalues means that some directions learn slowly, and the regularized condition number $\\kappa_\\lambda$ measures that spread.',
    'The claim to test: across choices of which layers to adapt, a smaller $\\kappa_\\lambda$ at $\\theta_0$ goes with a lower training loss and a higher evaluation accuracy after fine-tuning. It is a tendency, checked here on ten layer subsets of a small model, so expect scatter.',
  ],
  tex: [
    'K[(i,a),(j,b)] = \\sum_p \\frac{\\partial f_a(x_i)}{\\partial \\theta_p}\\,\\frac{\\partial f_b(x_j)}{\\partial \\theta_p}, \\qquad \\mu_1 \\ge \\dots \\ge \\mu_n \\ge 0',
    '\\kappa_\\lambda = \\frac{\\mu_1 + N\\lambda}{\\mu_n + N\\lambda}',
  ],
  spec: {
    ...SMALL_RUN,
    steps: 50,
    optimizer: 'adam',
    lr: 0.01,
    lambda: 0.01,
  },
  steps: [
    {
      title: 'Read κ_λ for the current layers',
      change: 'Nothing to change yet. When the lesson opened, the lab computed the kernel at $\\theta_0$ for LoRA on attn.q and attn.v in every layer.',
      watch:
        'In the kernel panel, read $\\mu_1$, $\\mu_n$ and $\\kappa_\\lambda$. $N$ is the probe size (16 here). Adding $N\\lambda$ to every eigenvalue lifts the smallest ones most, so a larger $\\lambda$ pulls $\\kappa_\\lambda$ toward 1.',
      highlight: ['preview-stats'],
    },
    {
      title: 'Run the layer sweep',
      change:
        'Press Run layer sweep. For ten layer subsets $S$ it computes $K_S$ at $\\theta_0$, then fine-tunes each subset from the same $\\theta_0$ for the same 50 Adam steps.',
      watch: 'In the sweep chart each point is one subset: its $\\kappa_\\lambda$ on a log axis against its final eval accuracy and train loss.',
      highlight: ['run-sweep', 'chart-sweep'],
      action: 'runSweep',
    },
    {
      title: 'Read the correlation',
      change: 'Wait until the sweep finishes.',
      watch:
        'The chart gives Pearson $r$ (on $\\log_{10}\\kappa_\\lambda$) and Spearman $\\rho$ (on ranks). A negative correlation with accuracy and a positive one with train loss support the claim. With ten points and 50 steps one seed can disagree: change the seed and sweep again to see how stable the sign is.',
      highlight: ['chart-sweep'],
    },
    {
      title: 'Check every subset against its Weyl bounds',
      change: 'In the Weyl chart, switch to the view of the sweep subsets.',
      watch:
        'Each subset gives two points: its exact $\\mu_1(K_S)$ against $\\sum_b \\mu_1(K_b)$, on or below the diagonal, and its exact $\\mu_n(K_S)$ against $\\sum_b \\mu_n(K_b)$, on or above it. The block spectra alone bound $\\kappa_\\lambda$ of every subset before it is computed.',
      highlight: ['chart-weyl'],
    },
    {
      title: 'Raise λ and sweep again',
      change: 'Set $\\lambda = 0.1$ and run the sweep again.',
      watch:
        'Every $\\kappa_\\lambda$ falls, most for the subsets with the smallest $\\mu_n$, because $N\\lambda$ now outweighs $\\mu_n$. See whether the ordering of the subsets and the correlation change.',
      highlight: ['control-lambda', 'chart-sweep'],
      apply: { lambda: 0.1 },
      action: 'runSweep',
    },
  ],
};
