// Small charts drawn as SVG (no chart library: one bar series, each bar named for screen readers).
import { fmt } from './i18n.js';

const SVG = 'http://www.w3.org/2000/svg';
const el = (name, attributes = {}, text) => {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
};

/** Bars over time: `items` [{start, end, count}], oldest first; a bar per bucket, with axis labels. */
export function timeBars(container, items, { label, empty }) {
  container.replaceChildren();
  if (items.length === 0) {
    const p = document.createElement('p');
    p.className = 'muted';
    p.textContent = empty;
    container.append(p);
    return;
  }
  const width = 640;
  const height = 200;
  const pad = { left: 44, right: 8, top: 8, bottom: 28 };
  const first = Date.parse(items[0].start);
  const last = Date.parse(items[items.length - 1].end);
  const span = Math.max(1, last - first);
  const max = Math.max(...items.map((item) => item.count), 1);
  const x = (time) => pad.left + ((time - first) / span) * (width - pad.left - pad.right);
  const y = (count) => height - pad.bottom - (count / max) * (height - pad.top - pad.bottom);
  const svg = el('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', class: 'chart' });
  svg.append(el('title', {}, label));
  svg.append(el('line', { x1: pad.left, x2: width - pad.right, y1: y(0), y2: y(0), class: 'axis' }));
  for (const tick of [0, max]) {
    svg.append(el('text', { x: pad.left - 6, y: y(tick) + 4, 'text-anchor': 'end', class: 'tick' }, fmt.int(tick)));
  }
  for (const [index, item] of items.entries()) {
    const start = Date.parse(item.start);
    const end = Date.parse(item.end);
    const bar = el('rect', {
      x: x(start) + 1,
      y: y(item.count),
      width: Math.max(2, x(end) - x(start) - 2),
      height: Math.max(0, y(0) - y(item.count)),
      class: 'bar',
    });
    bar.append(el('title', {}, `${fmt.dayTime(new Date(start))}: ${fmt.int(item.count)}`));
    svg.append(bar);
    if (index === 0 || index === items.length - 1) {
      svg.append(
        el(
          'text',
          {
            x: index === 0 ? x(start) : x(end),
            y: height - 8,
            'text-anchor': index === 0 ? 'start' : 'end',
            class: 'tick',
          },
          fmt.dayTime(new Date(index === 0 ? start : end)),
        ),
      );
    }
  }
  container.append(svg);
}
