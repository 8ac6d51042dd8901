/**
 * A chart card as a standalone SVG or PNG file. The chart's <svg> is cloned
 * with its computed styles written inline, so CSS variables such as
 * --line-width and --chart-font-size resolve to the values on screen. The
 * card's title, its HTML legend and readout are drawn into the file above the
 * plot, on a white background.
 */

const SVG_NS = 'http://www.w3.org/2000/svg';

/** The presentation properties a chart sets through CSS; each one is copied from the computed style. */
const STYLE_PROPERTIES = [
  'fill',
  'fill-opacity',
  'stroke',
  'stroke-width',
  'stroke-opacity',
  'stroke-dasharray',
  'stroke-linecap',
  'stroke-linejoin',
  'opacity',
  'font-family',
  'font-size',
  'font-weight',
  'font-style',
  'text-anchor',
  'dominant-baseline',
  'paint-order',
] as const;

/** Interactive parts of a chart that a file leaves out. */
const INTERACTIVE_SELECTOR = '.hover-overlay, .hover-rule';

const PADDING = 12;
const SWATCH_WIDTH = 26;
const SWATCH_HEIGHT = 12;
const LEGEND_ITEM_GAP = 12;
const LINE_GAP = 4;

export interface ChartImage {
  /** The SVG document text, with an XML declaration. */
  svg: string;
  /** Size in CSS pixels. */
  width: number;
  height: number;
}

/** Returns the chart's own <svg>: the direct child of its container, not a legend swatch. */
export function findChartSvg(card: HTMLElement): SVGSVGElement | null {
  return card.querySelector<SVGSVGElement>('.chart-container > svg');
}

/** Builds a standalone SVG of a chart card: title, legend and readout lines, then the plot. */
export function chartImage(card: HTMLElement, title: string): ChartImage {
  const source = findChartSvg(card);
  if (source === null) throw new Error('the chart has no <svg> to export');
  const box = source.getBoundingClientRect();
  const width = Math.ceil(box.width);
  const plotHeight = Math.ceil(box.height);
  if (width === 0 || plotHeight === 0) throw new Error('the chart is not drawn yet (its <svg> has no size)');

  const root = document.createElementNS(SVG_NS, 'svg');
  const background = element('rect', { width: '100%', height: '100%', fill: '#ffffff' });
  root.appendChild(background);

  const titleFont = fontOf(card.querySelector('h3') ?? card);
  const textFont = fontOf(source);
  let y = PADDING;

  y += titleFont.size;
  root.appendChild(textElement(title, PADDING, y, { ...titleFont, weight: '600' }, '#1f2937'));
  y += LINE_GAP * 2;

  const container = source.parentElement as HTMLElement;
  y = drawLegend(root, container, width, y, textFont);
  y = drawReadout(root, container, width, y, textFont);

  const plot = inlineStyledClone(source);
  plot.setAttribute('x', '0');
  plot.setAttribute('y', String(Math.ceil(y)));
  plot.setAttribute('width', String(width));
  plot.setAttribute('height', String(plotHeight));
  if (!plot.hasAttribute('viewBox')) plot.setAttribute('viewBox', `0 0 ${width} ${plotHeight}`);
  root.appendChild(plot);

  const height = Math.ceil(y) + plotHeight + PADDING;
  root.setAttribute('xmlns', SVG_NS);
  root.setAttribute('width', String(width));
  root.setAttribute('height', String(height));
  root.setAttribute('viewBox', `0 0 ${width} ${height}`);
  root.setAttribute('font-family', textFont.family);
  const text = `<?xml version="1.0" encoding="UTF-8"?>\n${new XMLSerializer().serializeToString(root)}\n`;
  return { svg: text, width, height };
}

/** Draws a chart image on a canvas at `scale` times its CSS size, on white, and returns PNG bytes. */
export async function chartPng(image: ChartImage, scale = 2): Promise<Blob> {
  const url = URL.createObjectURL(new Blob([image.svg], { type: 'image/svg+xml;charset=utf-8' }));
  try {
    const picture = new Image();
    picture.src = url;
    await picture.decode();

    const canvas = document.createElement('canvas');
    canvas.width = Math.round(image.width * scale);
    canvas.height = Math.round(image.height * scale);
    const context = canvas.getContext('2d');
    if (context === null) throw new Error('the browser gave no 2D canvas context');
    context.fillStyle = '#ffffff';
    context.fillRect(0, 0, canvas.width, canvas.height);
    context.drawImage(picture, 0, 0, canvas.width, canvas.height);

    return await new Promise<Blob>((resolve, reject) => {
      canvas.toBlob((blob) => (blob === null ? reject(new Error('the canvas could not be encoded as PNG')) : resolve(blob)), 'image/png');
    });
  } finally {
    URL.revokeObjectURL(url);
  }
}

/** Clones an on-screen <svg> and writes each element's computed presentation styles inline. */
function inlineStyledClone(source: SVGSVGElement): SVGSVGElement {
  const clone = source.cloneNode(true) as SVGSVGElement;
  const originals = [source, ...source.querySelectorAll<SVGElement>('*')];
  const copies = [clone, ...clone.querySelectorAll<SVGElement>('*')];

  // Both lists are in document order, so the i-th copy is the i-th original's clone.
  const hidden: Element[] = [];
  originals.forEach((original, i) => {
    const copy = copies[i] as SVGElement;
    const computed = getComputedStyle(original);
    if (computed.display === 'none' || original.matches(INTERACTIVE_SELECTOR)) {
      hidden.push(copy);
      return;
    }
    const declarations = STYLE_PROPERTIES.map((property) => `${property}:${computed.getPropertyValue(property)}`);
    copy.setAttribute('style', declarations.join(';'));
  });
  for (const copy of hidden) copy.remove();

  clone.removeAttribute('class');
  return clone;
}

interface Font {
  family: string;
  size: number;
  weight: string;
}

function fontOf(node: Element): Font {
  const computed = getComputedStyle(node);
  return { family: computed.fontFamily, size: parseFloat(computed.fontSize) || 12, weight: computed.fontWeight };
}

/** Draws the HTML legend's items as swatches and labels, wrapped to the width; returns the y below them. */
function drawLegend(root: SVGSVGElement, container: HTMLElement, width: number, top: number, font: Font): number {
  const items = [...container.querySelectorAll<HTMLElement>(':scope > .chart-legend .legend-item')];
  if (items.length === 0) return top;

  const rowHeight = Math.max(SWATCH_HEIGHT, font.size) + LINE_GAP;
  const measure = textMeasurer(font);
  let x = PADDING;
  let y = top;
  for (const item of items) {
    const label = item.textContent ?? '';
    const itemWidth = SWATCH_WIDTH + 4 + measure(label) + LEGEND_ITEM_GAP;
    if (x > PADDING && x + itemWidth > width - PADDING) {
      x = PADDING;
      y += rowHeight;
    }

    const swatch = item.querySelector<SVGSVGElement>('svg');
    if (swatch !== null) {
      const copy = inlineStyledClone(swatch);
      copy.setAttribute('x', String(x));
      copy.setAttribute('y', String(y + (rowHeight - LINE_GAP - SWATCH_HEIGHT) / 2));
      copy.setAttribute('width', String(SWATCH_WIDTH));
      copy.setAttribute('height', String(SWATCH_HEIGHT));
      copy.removeAttribute('style');
      root.appendChild(copy);
    }
    root.appendChild(textElement(label, x + SWATCH_WIDTH + 4, y + font.size * 0.85, font, '#1f2937'));
    x += itemWidth;
  }
  return y + rowHeight + LINE_GAP;
}

/** Draws the readout lines (derived numbers such as η_max) as text wrapped to the width; returns the y below them. */
function drawReadout(root: SVGSVGElement, container: HTMLElement, width: number, top: number, font: Font): number {
  const lines = [...container.querySelectorAll<HTMLElement>(':scope > .chart-readout .readout-line')];
  const measure = textMeasurer(font);
  let y = top;
  for (const line of lines) {
    const color = getComputedStyle(line).color;
    for (const row of wrapWords(line.textContent ?? '', width - 2 * PADDING, measure)) {
      y += font.size;
      root.appendChild(textElement(row, PADDING, y, font, color));
      y += LINE_GAP;
    }
  }
  return lines.length > 0 ? y + LINE_GAP : y;
}

/** Splits text at spaces into rows no wider than maxWidth; a single word wider than that gets a row of its own. */
function wrapWords(text: string, maxWidth: number, measure: (text: string) => number): string[] {
  const rows: string[] = [];
  let row = '';
  for (const word of text.split(' ')) {
    const candidate = row === '' ? word : `${row} ${word}`;
    if (row !== '' && measure(candidate) > maxWidth) {
      rows.push(row);
      row = word;
    } else {
      row = candidate;
    }
  }
  if (row !== '') rows.push(row);
  return rows;
}

function textElement(text: string, x: number, y: number, font: Font, color: string): SVGTextElement {
  const node = element('text', {
    x: String(x),
    y: String(y),
    fill: color,
    'font-family': font.family,
    'font-size': `${font.size}px`,
    'font-weight': font.weight,
  }) as SVGTextElement;
  node.textContent = text;
  return node;
}

function element(name: string, attributes: Record<string, string>): SVGElement {
  const node = document.createElementNS(SVG_NS, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, value);
  return node;
}

/** Returns a function that measures a label's width in `font` with a 2D canvas. */
function textMeasurer(font: Font): (text: string) => number {
  const context = document.createElement('canvas').getContext('2d');
  // NOTE: without a 2D context the width is an estimate of 0.6 em per character.
  if (context === null) return (text) => text.length * font.size * 0.6;
  context.font = `${font.weight} ${font.size}px ${font.family}`;
  return (text) => context.measureText(text).width;
}
