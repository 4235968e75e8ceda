// The states' map: GeoJSON polygons drawn as SVG paths with a planar projection (longitude scaled by the
// cosine of the middle latitude: right for one country, and indifferent to ring winding), each shape a
// focusable button named for the state, shaded by coverage or by the leading candidate's share.
const SVG = 'http://www.w3.org/2000/svg';
/** Sequential blues, light to dark (class 0 = lowest); the darkest pass 3:1 against white strokes. */
export const COVERAGE_COLOURS = ['#deebf7', '#9ecae1', '#6baed6', '#3182bd', '#08519c'];
/** One hue per leading candidate (in the election's order), each in light-to-dark steps. */
export const CANDIDATE_PALETTES = [
  ['#fdd0a2', '#fdae6b', '#fd8d3c', '#e6550d', '#a63603'],
  ['#c7e9c0', '#a1d99b', '#74c476', '#31a354', '#006d2c'],
  ['#dadaeb', '#bcbddc', '#9e9ac8', '#756bb1', '#54278f'],
  ['#fcbba1', '#fc9272', '#fb6a4a', '#de2d26', '#a50f15'],
];
export const NO_DATA = '#f0f0f0';

function rings(geometry) {
  if (!geometry) return [];
  if (geometry.type === 'Polygon') return geometry.coordinates;
  if (geometry.type === 'MultiPolygon') return geometry.coordinates.flat();
  return [];
}

/** A projection fitted to the features into width × height. */
function fit(features, width, height) {
  let [minX, minY, maxX, maxY] = [Infinity, Infinity, -Infinity, -Infinity];
  for (const feature of features)
    for (const ring of rings(feature.geometry))
      for (const [x, y] of ring) {
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, y);
        maxY = Math.max(maxY, y);
      }
  const k = Math.cos((((minY + maxY) / 2) * Math.PI) / 180);
  const scale = Math.min(width / ((maxX - minX) * k || 1), height / (maxY - minY || 1));
  return {
    project: ([x, y]) => [(x - minX) * k * scale, (maxY - y) * scale],
    width: (maxX - minX) * k * scale,
    height: (maxY - minY) * scale,
  };
}

function pathOf(geometry, project) {
  return rings(geometry)
    .map(
      (ring) =>
        `M${ring
          .map((point) => {
            const [x, y] = project(point);
            return `${x.toFixed(1)},${y.toFixed(1)}`;
          })
          .join('L')}Z`,
    )
    .join('');
}

/** Coverage classes: fifths of the centres reporting. */
export const COVERAGE_BINS = [0.2, 0.4, 0.6, 0.8];
/** Leading-share classes: a leader has at least a plurality, so the scale starts below a half. */
export const LEADER_BINS = [0.4, 0.5, 0.6, 0.7];
const classOf = (share, bins) =>
  share === null || share === undefined ? -1 : bins.filter((bound) => share >= bound).length;

/**
 * Draws `features` into `svg` once; answers `shade(rowsByCode, mode, candidates)` which recolours the shapes
 * and names them, and calls `onSelect(code)` on click, Enter or Space.
 */
export function drawMap(svg, features, { onSelect }) {
  const { project, width, height } = fit(
    features.filter((feature) => feature.geometry),
    600,
    460,
  );
  svg.setAttribute('viewBox', `-4 -4 ${Math.ceil(width) + 8} ${Math.ceil(height) + 8}`);
  svg.replaceChildren();
  const shapes = new Map();
  for (const feature of features) {
    if (!feature.geometry) continue; // a region without a boundary: in the table, not on the map
    const code = feature.properties?.code ?? feature.id ?? null;
    const path = document.createElementNS(SVG, 'path');
    path.setAttribute('d', pathOf(feature.geometry, project));
    path.classList.add('shape');
    if (code) {
      path.classList.add('state');
      path.dataset.code = code;
      path.setAttribute('tabindex', '0');
      path.setAttribute('role', 'button');
      path.addEventListener('click', () => onSelect(code));
      path.addEventListener('keydown', (event) => {
        if (event.key === 'Enter' || event.key === ' ') {
          event.preventDefault();
          onSelect(code);
        }
      });
      const title = document.createElementNS(SVG, 'title');
      path.append(title);
      shapes.set(code, { path, title, name: feature.properties?.name ?? code });
    } else {
      path.setAttribute('aria-hidden', 'true');
    }
    path.setAttribute('fill', NO_DATA);
    svg.append(path);
  }
  return {
    shade(rows, mode, candidates, describe) {
      for (const [code, shape] of shapes) {
        const row = rows.get(code);
        let fill = NO_DATA;
        if (row && mode === 'coverage') {
          const level = classOf(row.coverage.centresReportingShare, COVERAGE_BINS);
          if (level >= 0) fill = COVERAGE_COLOURS[level];
        } else if (row && mode === 'leader') {
          const leader = leaderOf(row, candidates);
          if (leader) {
            const palette = CANDIDATE_PALETTES[Math.min(leader.index, CANDIDATE_PALETTES.length - 1)];
            fill = palette[classOf(leader.share, LEADER_BINS)];
          }
        }
        shape.path.setAttribute('fill', fill);
        if (fill === NO_DATA) delete shape.path.dataset.shaded;
        else shape.path.dataset.shaded = mode;
        const label = describe(shape.name, row);
        shape.path.setAttribute('aria-label', label);
        shape.title.textContent = label;
      }
    },
    select(code) {
      for (const [other, shape] of shapes) shape.path.classList.toggle('selected', other === code);
    },
  };
}

/** The candidate with most votes in `row` (null without votes): {code, name, share, index}. */
export function leaderOf(row, candidates) {
  let best = null;
  for (const [index, candidate] of candidates.entries()) {
    const votes = row.results.votes[candidate.code] ?? 0;
    if (votes > 0 && (!best || votes > best.votes))
      best = { ...candidate, votes, share: row.results.shares[candidate.code] ?? 0, index };
  }
  return best;
}
