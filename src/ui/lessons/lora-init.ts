/** Lesson: LoRA starts with B = 0, so the kernel at θ₀ comes from the B factors, scaled by the init of A, r and lora_alpha. */
import { SMALL_RUN, type Lesson } from './lesson.ts';

export const loraInit: Lesson = {
  id: 'lora-init',
  title: "LoRA's B = 0 init and the kernel",
  intro: [
    'LoRA replaces a weight $W$ by $W + sBA$, with $A$ of size $r \\times d_{\\mathrm{in}}$ and $B$ of size $d_{\\mathrm{out}} \\times r$. PEFT, and this lab, start with $B = 0$, so fine-tuning starts exactly at the pretrained model.',
    'At $\\theta_0$ the gradient with respect to $A$ carries the factor $B = 0$, so it vanishes: the kernel at $\\theta_0$ comes from the $B$ factors alone. The gradient with respect to $B$ is the full weight\'s gradient $G = \\partial f / \\partial W$ times $A^\\top$, so each block kernel is the kernel of the full weight $K_b^W$ seen through the random matrix $A$. Averaged over the draw of $A$, it is $K_b^W$ times $s^2\\, r\\, \\sigma_A^2$, where $\\sigma_A^2$ is the variance of the entries of $A$.',
  ],
  tex: [
    '\\Delta W = s\\,BA, \\qquad s = \\frac{\\alpha}{r} \\;\\; \\Bigl(\\text{or } \\frac{\\alpha}{\\sqrt{r}} \\text{ with rsLoRA}\\Bigr), \\qquad B_0 = 0',
    '\\frac{\\partial f}{\\partial A}\\Big|_{\\theta_0} = s\\,B_0^\\top G = 0, \\qquad \\frac{\\partial f}{\\partial B}\\Big|_{\\theta_0} = s\\,G A^\\top',
    '\\mathbb{E}_A\\bigl[K_b\\bigr] = s^2\\, r\\, \\sigma_A^2 \\; K_b^W',
  ],
  spec: {
    ...SMALL_RUN,
    steps: 60,
    adapters: 'qv.qv.qv.qv',
    mode: 'lora',
    r: 4,
    loraAlpha: 8,
    rslora: false,
    init: 'kaiming',
    lambda: 0,
  },
  steps: [
    {
      title: 'Kaiming init of A',
      change:
        'The lesson starts with PEFT\'s default: $A$ Kaiming-uniform with $a = \\sqrt{5}$, whose entries are uniform in $\\pm 1/\\sqrt{d_{\\mathrm{in}}}$, with $r = 4$ and $\\alpha = 8$.',
      watch: 'Note $\\mu_1$ and the trace of $K$ in the kernel panel. Every adapted module here (attn.q, attn.v) has $d_{\\mathrm{in}} = 64$.',
      tex: ['\\sigma_A^2 = \\frac{1}{3\\,d_{\\mathrm{in}}} \\;\\Longrightarrow\\; \\mathbb{E}[K_b] = \\frac{\\alpha^2}{3\\,r\\,d_{\\mathrm{in}}}\\, K_b^W'],
      highlight: ['field-init', 'preview-stats'],
    },
    {
      title: 'Gaussian init of A',
      change: 'Set Init of A to gaussian: PEFT\'s normal init with standard deviation $1/r$. $B$ is still 0.',
      watch:
        'On average the kernel grows by $3\\,d_{\\mathrm{in}}/r^2 = 12$ for $d_{\\mathrm{in}} = 64$ and $r = 4$. That factor is an average over draws of $A$: with only four rows, one draw can land well away from it. Change the seed to see the scatter.',
      tex: ['\\sigma_A^2 = \\frac{1}{r^2} \\;\\Longrightarrow\\; \\mathbb{E}[K_b] = \\frac{\\alpha^2}{r^3}\\, K_b^W'],
      highlight: ['field-init', 'preview-stats'],
      apply: { init: 'gaussian' },
    },
    {
      title: 'Raise the rank',
      change: 'Set Init of A back to kaiming and the rank $r$ to 16.',
      watch: 'With $s = \\alpha/r$ the expected kernel falls as $1/r$: the trace drops to about a quarter of its value at $r = 4$.',
      highlight: ['field-r', 'preview-stats'],
      apply: { init: 'kaiming', r: 16 },
    },
    {
      title: 'Rank-stabilized scaling',
      change: 'Switch on rsLoRA, which scales by $\\alpha/\\sqrt{r}$.',
      watch:
        'Now the expected kernel no longer depends on $r$. At $r = 16$ the scale factor $s^2$ grows by $r = 16$, and the trace with it, since $A$ is the same draw.',
      tex: ['s = \\frac{\\alpha}{\\sqrt{r}} \\;\\Longrightarrow\\; \\mathbb{E}[K_b] = \\frac{\\alpha^2}{3\\,d_{\\mathrm{in}}}\\, K_b^W'],
      highlight: ['field-rslora', 'preview-stats'],
      apply: { rslora: true },
    },
    {
      title: 'lora_alpha and the learning rate',
      change: 'Double lora_alpha to 16.',
      watch:
        'The kernel scales by $4 = 2^2$. With $\\lambda = 0$ every eigenvalue scales alike, so $\\kappa$ does not change, but the largest stable step $\\eta_{\\max}$ shrinks to a quarter: watch its mark on the learning-rate slider. A scale change of the adapters is a change of the safe learning rate.',
      tex: ['\\eta_{\\max} = \\frac{2}{\\mu_1/N + \\lambda}'],
      highlight: ['field-loraAlpha', 'preview-stats', 'control-lr'],
      apply: { loraAlpha: 16 },
    },
  ],
};
