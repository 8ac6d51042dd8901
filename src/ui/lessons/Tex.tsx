/**
 * TeX rendered by KaTeX, and prose with inline TeX between single dollar signs.
 * Only the lessons' own constant strings reach KaTeX; nothing from a link or
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

/** Splits "text $tex$ text" into its text and TeX parts; odd indices are TeX. */
export function splitInlineTex(text: string): string[] {
  return text.split(/\$([^$]+)\$/);
}

/** Renders a paragraph of prose whose $…$ parts are inline formulas. */
export function Prose({ text, className }: { text: string; className?: string }) {
  const parts = splitInlineTex(text);
  return (
    <p className={className}>
      {parts.map((part, index) => (index % 2 === 1 ? <Tex key={index} tex={part} /> : part))}
    </p>
  );
}
