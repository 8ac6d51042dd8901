import type { ReactNode } from 'react';

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

/** A titled panel around one chart, with its caption and empty state. */
export function ChartCard({ id, title, caption, emptyMessage = null, children }: ChartCardProps) {
  return (
    <section className="chart-card" data-testid={`chart-${id}`} aria-label={title}>
      <header className="chart-card-header">
        <h3>{title}</h3>
      </header>
      {emptyMessage !== null ? <p className="chart-empty">{emptyMessage}</p> : null}
      <div className="chart-body" hidden={emptyMessage !== null}>
        {children}
      </div>
      {caption !== undefined ? <p className="chart-caption">{caption}</p> : null}
    </section>
  );
}
