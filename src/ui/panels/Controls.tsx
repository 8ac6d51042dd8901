/** The experiment settings: task, regularizer, optimizer, LoRA and run sizes. */
import { SPEC_FIELDS, type ExperimentSpec, type SpecKey } from '../../core/spec.ts';
import { useLab } from '../lab-context.ts';
import { LIVE_KEYS } from '../store.ts';
import { formatValue } from '../charts/frame.ts';
import { LogSlider } from './LogSlider.tsx';
import { SpecField } from './SpecField.tsx';

const GROUPS: { title: string; fields: [SpecKey, string][] }[] = [
  { title: 'Task', fields: [['task', 'Task']] },
  {
    title: 'Regularizer and optimizer',
    fields: [
      ['selective', 'Selective λ'],
      ['anchor', 'Anchor θ₀'],
      ['loss', 'Loss'],
      ['optimizer', 'Optimizer'],
    ],
  },
  {
    title: 'Adapters',
    fields: [
      ['mode', 'Mode'],
      ['r', 'Rank r'],
      ['loraAlpha', 'lora_alpha'],
      ['rslora', 'rsLoRA (α/√r)'],
      ['init', 'Init of A'],
    ],
  },
  {
    title: 'Run',
    fields: [
      ['batchSize', 'Batch size'],
      ['steps', 'Steps'],
      ['seed', 'Seed'],
      ['trainSize', 'Train examples'],
      ['evalSize', 'Eval examples'],
      ['probeSize', 'Probe size N'],
      ['ntkInterval', 'NTK interval (steps)'],
      ['evalInterval', 'Eval interval (steps)'],
      ['linearized', 'Train the linearized model'],
    ],
  },
];

export function Controls() {
  const spec = useLab((state) => state.spec);
  const setSpecValue = useLab((state) => state.setSpecValue);
  const etaMax = useLab((state) => latestEtaMax(state.run.ntk.at(-1)?.stats.etaMax, state.analysis.preview?.stats?.etaMax));
  const set = <K extends SpecKey>(key: K) => (value: ExperimentSpec[K]) => setSpecValue(key, value);

  return (
    <form className="controls" aria-label="Experiment settings" onSubmit={(event) => event.preventDefault()}>
      {GROUPS.map((group) => (
        <fieldset key={group.title}>
          <legend>{group.title}</legend>
          {group.title === 'Regularizer and optimizer' ? (
            <>
              <LogSlider
                label="λ (penalty strength)"
                testId="control-lambda"
                value={spec.lambda}
                minExp={-6}
                maxExp={3}
                includeZero
                max={SPEC_FIELDS.lambda.max}
                help={SPEC_FIELDS.lambda.help}
                onChange={set('lambda')}
              />
              <LogSlider
                label="Learning rate η"
                testId="control-lr"
                value={spec.lr}
                minExp={-5}
                maxExp={1}
                includeZero={false}
                max={SPEC_FIELDS.lr.max}
                help={SPEC_FIELDS.lr.help}
                onChange={set('lr')}
                marker={etaMax === null ? null : { value: etaMax, label: `η_max ${formatValue(etaMax)}` }}
              />
              <p className="control-note">
                λ and η apply live. η_max = 2/(μ₁/N + λ) is the largest stable full-batch GD step on squared loss, from the
                latest spectrum{spec.optimizer === 'adam' ? '; Adam rescales steps, so it is only a guide here' : ''}.
              </p>
            </>
          ) : null}
          {group.fields.map(([key, label]) => (
            <SpecField key={key} name={key} label={label} value={spec[key]} onChange={set(key)} live={LIVE_KEYS.includes(key)} />
          ))}
        </fieldset>
      ))}
    </form>
  );
}

function latestEtaMax(fromRun: number | null | undefined, fromPreview: number | null | undefined): number | null {
  return fromRun ?? fromPreview ?? null;
}
