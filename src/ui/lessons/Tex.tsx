/**
 * TeX rendered by KaTeX, and prose with inline TeX between single dollar signs.
 * Only the lessons' own constant strings reach KaTeX. Nothing from a link or
 * a task text does.
 */
import katex from 'katex';
import 'katex/dist/katex.min.css';
import { useEffect, useRef } from 'react';

interface TexProps {
  tex: string;
  /** Display mode: a centered formula on its own line. */
  display?: boolean;
}

/** Renders one formula into its element with katex.render. With trust off, TeX cannot add links or HTML attributes. */
export function Tex({ tex, display = false }: TexProps) {
  const ref = useRef<HTMLSpanElement | null>(null);
  useEffect(() => {
    if (ref.current === null) return;
    // throwOnError false: a TeX mistake shows the source in red instead of breaking the lesson.
    katex.render(tex, ref.current, { displayMode: display, throwOnError: false, trust: false, strict: 'warn' });
  }, [tex, display]);
  return <span ref={ref} className={display ? 'tex tex-display' : 'tex'} data-tex={tex} />;
}

/** Splits "text $tex$ text" into its text and TeX parts. The odd indices are TeX. */
export function splitInlineTex(text: string): string[] {
  return text.split(/\$([^$]+)\$/);
}

/** Punctuation right after a formula, which must not wrap onto the next line alone. */
const TRAILING_PUNCTUATION = /^[.,;:!?)]+/;

/** Renders a paragraph of prose whose $…$ parts are inline formulas. */
export function Prose({ text, className }: { text: string; className?: string }) {
  const parts = splitInlineTex(text);
  const children = [];
  for (let index = 0; index < parts.length; index++) {
    const part = parts[index] as string;
    if (index % 2 === 0) {
      // A formula already took this text's leading punctuation.
      const glued = index > 0 ? (TRAILING_PUNCTUATION.exec(part)?.[0] ?? '') : '';
      children.push(part.slice(glued.length));
      continue;
    }
    const punctuation = TRAILING_PUNCTUATION.exec(parts[index + 1] ?? '')?.[0] ?? '';
    children.push(
      <span key={index} className="tex-inline">
        <Tex tex={part} />
        {punctuation}
      </span>,
    );
  }
  return <p className={className}>{children}</p>;
}
