/**
 * The adaptable modules of a GPT-2 block, in the fixed order used to flatten
 * trainable parameters and to lay out NTK blocks.
 */
export const MODULES = ['attn.q', 'attn.k', 'attn.v', 'attn.c_proj', 'mlp.c_fc', 'mlp.c_proj'] as const;

export type ModuleName = (typeof MODULES)[number];

/** One letter per module, used by the compact adapter grid string (see adapters.ts). */
export const MODULE_LETTERS: Readonly<Record<ModuleName, string>> = {
  'attn.q': 'q',
  'attn.k': 'k',
  'attn.v': 'v',
  'attn.c_proj': 'o',
  'mlp.c_fc': 'f',
  'mlp.c_proj': 'p',
};

export function isModuleName(value: string): value is ModuleName {
  return (MODULES as readonly string[]).includes(value);
}
