/** Lesson: the penalty (λ/2)‖θ − θ₀‖² keeps fine-tuning close to its linearization. */
import { SMALL_RUN, type Lesson } from './lesson.ts';

export const lambdaLinear: Lesson = {
  id: 'lambda-linear',
  title: 'λ keeps fine-tuning linear',
  intro: [
    'Near the pretrained weights $\\theta_0$ a network behaves like its first-order Taylor expansion $f_{\\mathrm{lin}}$, a model that is linear in $\\theta$. The lab trains both side by side, with the same loss, optimizer, batches and seed.',
    'The objective adds a pull toward $\\theta_0$ of strength $\\lambda$. This lesson compares $\\lambda = 0$ with $\\lambda > 0$: how far $\\theta$ moves, and how far the real run drifts from the linearized one.',
  ],
  tex: [
    'f_{\\mathrm{lin}}(x;\\theta) = f(x;\\theta_0) + J(x)\\,(\\theta - \\theta_0), \\qquad J(x) = \\frac{\\partial f(x;\\theta_0)}{\\partial \\theta}',
    'R(\\theta) = \\frac{1}{N}\\sum_{i=1}^{N} \\ell\\bigl(f_\\theta(x_i), y_i\\bigr) + \\frac{\\lambda}{2}\\,\\lVert \\theta - \\theta_0 \\rVert^2',
  ],
  spec: {
    ...SMALL_RUN,
    steps: 100,
    optimizer: 'adam',
    lr: 0.01,
    lambda: 0,
    selective: false,
    linearized: true,
    evalInterval: 10,
    ntkInterval: 50,
  },
  steps: [
    {
      title: 'Fine-tune with λ = 0',
      change: 'Press Start. The real model and $f_{\\mathrm{lin}}$ train for 100 Adam steps with nothing pulling them back to $\\theta_0$.',
      watch:
        'In the distance chart, $\\lVert \\theta_t - \\theta_0 \\rVert$ grows, and so does the gap $\\lVert \\theta_t - \\theta_t^{\\mathrm{lin}} \\rVert$ between the real and the linearized parameters: the two runs part ways.',
      highlight: ['run-start', 'chart-distance'],
      action: 'start',
    },
    {
      title: 'Compare the outputs',
      change: 'Nothing to change. Let the run go on.',
      watch:
        'The divergence chart shows the RMS of $f - f_{\\mathrm{lin}}$ relative to the whole output change $f(\\theta_t) - f(\\theta_0)$, on the probe set and on held-out examples. Near 0 the run is linear; near 1 or above, the linearization misses as much of the change as it explains.',
      tex: [
        '\\text{relative RMS} = \\frac{\\mathrm{RMS}\\bigl(f(x;\\theta_t) - f_{\\mathrm{lin}}(x;\\theta^{\\mathrm{lin}}_t)\\bigr)}{\\mathrm{RMS}\\bigl(f(x;\\theta_t) - f(x;\\theta_0)\\bigr)}',
      ],
      highlight: ['chart-divergence'],
    },
    {
      title: 'Add the pull toward θ₀',
      change: 'Set $\\lambda = 0.1$ on the λ slider and restart the run.',
      watch:
        'The distance levels off, and the distance chart draws the bound $\\sqrt{2R_{\\mathrm{data}}(\\theta_0)/\\lambda}$ as a dashed line. The gap between the real and linearized parameters ends several times smaller than at $\\lambda = 0$, and the relative RMS in the divergence chart is lower.',
      tex: ['\\frac{\\lambda}{2}\\lVert \\theta_t - \\theta_0 \\rVert^2 \\le R(\\theta_t) \\le R(\\theta_0) \\;\\Longrightarrow\\; \\lVert \\theta_t - \\theta_0 \\rVert \\le \\sqrt{2R_{\\mathrm{data}}(\\theta_0)/\\lambda}'],
      highlight: ['control-lambda', 'chart-distance'],
      apply: { lambda: 0.1 },
      action: 'restart',
    },
    {
      title: 'Pull harder',
      change: 'Set $\\lambda = 1$ and restart.',
      watch:
        'The bound shrinks as $1/\\sqrt{\\lambda}$ and the distance with it, so the real run stays closer to $f_{\\mathrm{lin}}$. The price shows in the loss chart: held near $\\theta_0$, the model fits the training set less well than with $\\lambda = 0$.',
      highlight: ['control-lambda', 'chart-distance', 'chart-loss'],
      apply: { lambda: 1 },
      action: 'restart',
    },
    {
      title: 'Where the bound is a theorem',
      change: 'Switch to full-batch gradient descent (gd) with selective regularization and a learning rate of 0.02, and restart.',
      watch:
        'The bound follows from $R(\\theta_t) \\le R(\\theta_0)$, which needs the objective to descend at every step: full-batch gradient descent with selective regularization, which applies the pull only while $\\langle \\nabla R_{\\mathrm{data}}(\\theta), \\theta - \\theta_0 \\rangle \\ge 0$. Here the distance can never cross the dashed line. With Adam nothing guarantees that, so the bound was only a reference in the steps before.',
      highlight: ['field-optimizer', 'field-selective', 'chart-distance'],
      apply: { optimizer: 'gd', selective: true, lr: 0.02 },
      action: 'restart',
    },
  ],
};
