/** Lesson: for squared loss and full-batch GD, the linearized model follows a closed form that the lab overlays. */
import { SMALL_RUN, type Lesson } from './lesson.ts';

export const closedForm: Lesson = {
  id: 'closed-form',
  title: 'Squared loss and full-batch GD match the closed form',
  intro: [
    'For squared loss and full-batch gradient descent, the linearized model has a closed form. Write its parameter change as $\\delta = \\theta - \\theta_0 = J^\\top \\alpha$. Then $\\alpha$ follows a linear recursion driven by the training residual $y - f_0$, and the predictions are $f_0$ plus $K\\alpha$.',
    'The lab computes this prediction from the kernel on the training set and draws it as a green band under the measured curves.',
  ],
  tex: [
    '\\alpha_{t+1} = \\bigl(I - \\eta\\,(K/N + \\lambda I)\\bigr)\\,\\alpha_t + \\frac{\\eta}{N}\\,(y - f_0)',
    'f_t(X) = f_0(X) + K\\alpha_t, \\qquad \\alpha^{*} = (K + N\\lambda I)^{-1}(y - f_0)',
  ],
  spec: {
    ...SMALL_RUN,
    steps: 100,
    loss: 'mse',
    optimizer: 'gd',
    lr: 0.01,
    lambda: 0.01,
    selective: false,
    anchor: 'init',
    linearized: true,
    evalInterval: 5,
    ntkInterval: 50,
  },
  steps: [
    {
      title: 'Start the run',
      change: 'Press Start.',
      watch:
        'In the loss chart the orange linearized curve lies on the green band, because the linearized model is exactly the model the formula describes. The blue real model follows it at first and may part from it later.',
      highlight: ['run-start', 'chart-loss'],
      action: 'start',
    },
    {
      title: 'Eigen-modes and the step size',
      change: 'Look at the spectrum chart and at the η_max mark on the learning-rate slider.',
      watch:
        'Along the $i$-th eigenvector of $K$ the error shrinks by $|1 - \\eta(\\mu_i/N + \\lambda)|$ per step: modes with large eigenvalues are learned first, those with small ones slowly. The chart marks $N\\lambda$ and the stability edge $N(2/\\eta - \\lambda)$, above which a mode would grow.',
      tex: ['\\bigl|1 - \\eta(\\mu_i/N + \\lambda)\\bigr| < 1 \\;\\text{for every } i \\iff \\eta < \\eta_{\\max} = \\frac{2}{\\mu_1/N + \\lambda}'],
      highlight: ['chart-spectrum', 'control-lr'],
    },
    {
      title: 'The limit',
      change: 'Let the run finish.',
      watch:
        'The dotted lines give the theory at $t = \\infty$, from $\\alpha^{*}$. With $\\lambda > 0$ the linearized model stops short of fitting the training labels exactly: the pull toward $\\theta_0$ balances the residual.',
      highlight: ['chart-loss', 'chart-accuracy'],
    },
    {
      title: 'Step past η_max',
      change:
        'Press Reset, type a learning rate above the η_max mark (about twice it) into the box next to the slider, and start again.',
      watch:
        'Now $|1 - \\eta(\\mu_1/N + \\lambda)| > 1$: the top mode grows at every step, and the theory band and the linearized curve blow up. The real model is not bound by the formula: compare how it fares.',
      highlight: ['control-lr', 'chart-loss'],
    },
    {
      title: 'Cross-entropy',
      change: 'Set the loss to cross-entropy and restart.',
      watch:
        'The closed form needs squared loss, so the green band disappears and the chart caption says why. The linearized model still trains beside the real one.',
      highlight: ['field-loss', 'chart-loss'],
      apply: { loss: 'ce', lr: 0.01 },
      action: 'restart',
    },
  ],
};
