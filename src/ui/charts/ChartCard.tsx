import { useRef, useState, type CSSProperties, type ReactNode } from 'react';

import { chartImage, chartPng } from '../export/chart-image.ts';
import { downloadBlob, exportFileName } from '../export/download.ts';

interface ChartCardProps {
  /** Stable id: the card gets data-testid="chart-<id>". */
  id: string;
  title: string;
  /** The kernel, normalization and λ a chart shows, or what its marks mean. */
  caption?: ReactNode;
  /** Shown in place of the chart while it has no data. */
  emptyMessage?: string | null;
  children: ReactNode;
}

type ImageFormat = 'png' | 'svg';

/** Pixels per CSS pixel of a PNG export. */
const PNG_SCALE = 2;

/**
 * The browser skips style, layout and paint of cards outside the viewport,
 * so a redraw there costs only its DOM updates. The intrinsic size is the
 * placeholder height before a card is first rendered, and the last rendered
 * height after that.
 */
const CARD_STYLE: CSSProperties = { contentVisibility: 'auto', containIntrinsicSize: 'auto 420px' };

/** A titled panel around one chart, with its caption, empty state and an export menu for PNG and SVG files. */
export function ChartCard({ id, title, caption, emptyMessage = null, children }: ChartCardProps) {
  const cardRef = useRef<HTMLElement | null>(null);
  const menuRef = useRef<HTMLDetailsElement | null>(null);
  const [problem, setProblem] = useState<string | null>(null);

  const exportImage = async (format: ImageFormat): Promise<void> => {
    if (menuRef.current !== null) menuRef.current.open = false;
    const card = cardRef.current;
    if (card === null) return;
    try {
      const image = chartImage(card, title);
      const blob = format === 'svg' ? new Blob([image.svg], { type: 'image/svg+xml' }) : await chartPng(image, PNG_SCALE);
      downloadBlob(blob, exportFileName(id, format));
      setProblem(null);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      console.error(`chart ${id}: ${format.toUpperCase()} export failed: ${reason}`);
      setProblem(`${format.toUpperCase()} export failed: ${reason}.`);
    }
  };

  return (
    <section className="chart-card" data-testid={`chart-${id}`} aria-label={title} ref={cardRef} style={CARD_STYLE}>
      <header className="chart-card-header">
        <h3>{title}</h3>
        {emptyMessage === null ? (
          <details className="chart-export" ref={menuRef} data-testid={`export-menu-${id}`}>
            <summary title="Save this chart as an image file">Export</summary>
            <div className="chart-export-items" role="menu">
              <button type="button" role="menuitem" data-testid={`export-png-${id}`} onClick={() => void exportImage('png')}>
                PNG ({PNG_SCALE}× pixels)
              </button>
              <button type="button" role="menuitem" data-testid={`export-svg-${id}`} onClick={() => void exportImage('svg')}>
                SVG (vector)
              </button>
            </div>
          </details>
        ) : null}
      </header>
      {problem !== null ? (
        <p className="chart-export-problem" role="alert">
          {problem}
        </p>
      ) : null}
      {emptyMessage !== null ? <p className="chart-empty">{emptyMessage}</p> : null}
      <div className="chart-body" hidden={emptyMessage !== null}>
        {children}
      </div>
      {caption !== undefined ? <p className="chart-caption">{caption}</p> : null}
    </section>
  );
}
