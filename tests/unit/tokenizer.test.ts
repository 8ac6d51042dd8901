import { describe, expect, it } from 'vitest';

import { CharTokenizer, TokenizerError, UNK_TOKEN } from '../../src/core/model/tokenizer.ts';

/** Returns the TokenizerError message that `action` throws, or fails the test. */
function tokenizerErrorMessage(action: () => unknown): string {
  try {
    action();
  } catch (error) {
    expect(error).toBeInstanceOf(TokenizerError);
    return (error as TokenizerError).message;
  }
  throw new Error('expected a TokenizerError, but nothing was thrown');
}

describe('CharTokenizer.ascii', () => {
  const tokenizer = CharTokenizer.ascii();

  it('has unk, newline and printable ASCII', () => {
    expect(tokenizer.size).toBe(97);
    expect(tokenizer.vocab[0]).toBe(UNK_TOKEN);
    expect(tokenizer.vocab[1]).toBe('\n');
    expect(tokenizer.vocab[2]).toBe(' ');
    expect(tokenizer.vocab[96]).toBe('~');
    expect(tokenizer.unkId).toBe(0);
  });

  it('round-trips ASCII text with newlines', () => {
    const text = 'Genre: news\nThe jury said, "It\'s 100% {fine}" ~ [ok]?\n';
    const ids = tokenizer.encode(text);
    expect(ids).toHaveLength(text.length);
    expect(ids).not.toContain(tokenizer.unkId);
    expect(tokenizer.decode(ids)).toBe(text);
  });

  it('round-trips every vocabulary character', () => {
    const text = tokenizer.vocab.slice(1).join('');
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it('maps unknown characters to unk', () => {
    // One id per code point: the emoji is two UTF-16 units but one character.
    const ids = tokenizer.encode('a\té😀b');
    expect(ids).toEqual([tokenizer.tokenId('a'), tokenizer.unkId, tokenizer.unkId, tokenizer.unkId, tokenizer.tokenId('b')]);
  });

  it('decodes unk and out-of-range ids as U+FFFD', () => {
    expect(tokenizer.decode([tokenizer.unkId])).toBe('\uFFFD');
    expect(tokenizer.decode([500, -1])).toBe('\uFFFD\uFFFD');
  });

  it('returns no id for unk or unknown characters', () => {
    expect(tokenizer.tokenId(UNK_TOKEN)).toBeUndefined();
    expect(tokenizer.tokenId('é')).toBeUndefined();
    expect(tokenizer.tokenId('n')).toBe(tokenizer.encode('n')[0]);
  });
});

describe('CharTokenizer JSON', () => {
  it('round-trips through toJson and fromJson', () => {
    const tokenizer = CharTokenizer.ascii();
    const json = JSON.parse(JSON.stringify(tokenizer.toJson())) as unknown;
    const restored = CharTokenizer.fromJson(json);
    expect(restored.vocab).toEqual(tokenizer.vocab);
    expect(restored.unkId).toBe(tokenizer.unkId);
    expect(restored.encode('Hi there!\n')).toEqual(tokenizer.encode('Hi there!\n'));
  });

  it('writes type, unk and vocab', () => {
    const json = CharTokenizer.ascii().toJson();
    expect(json.type).toBe('char');
    expect(json.unk).toBe(UNK_TOKEN);
    expect(json.vocab).toHaveLength(97);
  });

  it('keeps a custom vocabulary order', () => {
    const tokenizer = CharTokenizer.fromJson({ type: 'char', unk: UNK_TOKEN, vocab: ['b', UNK_TOKEN, 'a'] });
    expect(tokenizer.unkId).toBe(1);
    expect(tokenizer.encode('abc')).toEqual([2, 0, 1]);
  });

  const rejections: { name: string; json: unknown; message: string }[] = [
    { name: 'null', json: null, message: 'tokenizer.json: expected a JSON object' },
    { name: 'a string', json: 'char', message: 'tokenizer.json: expected a JSON object' },
    { name: 'a wrong type', json: { type: 'bpe', vocab: [UNK_TOKEN] }, message: 'tokenizer.json: type is "bpe", expected "char"' },
    { name: 'a missing vocab', json: { type: 'char' }, message: 'tokenizer.json: vocab must be an array of strings' },
    {
      name: 'a non-string token',
      json: { type: 'char', vocab: [UNK_TOKEN, 5] },
      message: 'tokenizer.json: vocab must be an array of strings',
    },
    { name: 'no unk token', json: { type: 'char', vocab: ['a', 'b'] }, message: 'tokenizer: the vocabulary has no <unk> token' },
    {
      name: 'a multi-character token',
      json: { type: 'char', vocab: [UNK_TOKEN, 'ab'] },
      message: 'tokenizer: token 1 is "ab", expected one character',
    },
    {
      name: 'a repeated token',
      json: { type: 'char', vocab: [UNK_TOKEN, 'a', 'a'] },
      message: 'tokenizer: token "a" appears twice',
    },
  ];

  for (const { name, json, message } of rejections) {
    it(`rejects ${name}`, () => {
      expect(tokenizerErrorMessage(() => CharTokenizer.fromJson(json))).toBe(message);
    });
  }
});
