/**
 * A character-level tokenizer over printable ASCII and newline. Any other
 * character maps to the unknown token, so every string encodes.
 */
export interface TokenizerJson {
  type: 'char';
  unk: string;
  vocab: string[];
}

export const UNK_TOKEN = '<unk>';

export class TokenizerError extends Error {}

export class CharTokenizer {
  readonly vocab: readonly string[];
  readonly unkId: number;
  private readonly ids: ReadonlyMap<string, number>;

  constructor(vocab: readonly string[]) {
    const unkId = vocab.indexOf(UNK_TOKEN);
    if (unkId < 0) throw new TokenizerError(`tokenizer: the vocabulary has no ${UNK_TOKEN} token`);
    const ids = new Map<string, number>();
    vocab.forEach((token, id) => {
      if (token !== UNK_TOKEN && [...token].length !== 1) {
        throw new TokenizerError(`tokenizer: token ${id} is ${JSON.stringify(token)}, expected one character`);
      }
      if (ids.has(token)) throw new TokenizerError(`tokenizer: token ${JSON.stringify(token)} appears twice`);
      ids.set(token, id);
    });
    this.vocab = vocab;
    this.unkId = unkId;
    this.ids = ids;
  }

  /** Builds the default vocabulary: unk, newline, then ASCII 32..126 (97 tokens). */
  static ascii(): CharTokenizer {
    const vocab = [UNK_TOKEN, '\n'];
    for (let code = 32; code <= 126; code++) vocab.push(String.fromCharCode(code));
    return new CharTokenizer(vocab);
  }

  static fromJson(json: unknown): CharTokenizer {
    if (typeof json !== 'object' || json === null) throw new TokenizerError('tokenizer.json: expected a JSON object');
    const record = json as Record<string, unknown>;
    if (record['type'] !== 'char') {
      throw new TokenizerError(`tokenizer.json: type is ${JSON.stringify(record['type'])}, expected "char"`);
    }
    const vocab = record['vocab'];
    if (!Array.isArray(vocab) || !vocab.every((token): token is string => typeof token === 'string')) {
      throw new TokenizerError('tokenizer.json: vocab must be an array of strings');
    }
    return new CharTokenizer(vocab);
  }

  toJson(): TokenizerJson {
    return { type: 'char', unk: UNK_TOKEN, vocab: [...this.vocab] };
  }

  get size(): number {
    return this.vocab.length;
  }

  /** Returns the id of one character, or undefined when it is not in the vocabulary. */
  tokenId(char: string): number | undefined {
    return char === UNK_TOKEN ? undefined : this.ids.get(char);
  }

  encode(text: string): number[] {
    const out: number[] = [];
    for (const char of text) out.push(this.ids.get(char) ?? this.unkId);
    return out;
  }

  /** Decodes ids; the unknown token decodes to U+FFFD. */
  decode(ids: readonly number[]): string {
    return ids.map((id) => (id === this.unkId ? '\uFFFD' : (this.vocab[id] ?? '\uFFFD'))).join('');
  }
}
