// A uPlot line chart of one daily or weekly series, with a hover tooltip and
// a keyboard readout: the chart is focusable, and Left/Right (Home/End) move
// the same readout the mouse shows. uPlot draws on a canvas; the tooltip and
// the readout are DOM, so tests and screen readers can read them.
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import uPlot from 'uplot';

/** One point: x in Unix seconds (a UTC midnight), y a count of users. */
export interface ChartPoint {
  date: string; // YYYY-MM-DD, as the readout shows it
  x: number;
  y: number;
}

interface Props {
  /** The id of the tooltip while it is shown. */
  tooltipID: string;
  /** The chart's accessible name. */
  label: string;
  points: ChartPoint[];
  /** The readout of a point, e.g. "2026-05-01: 3 active users". */
  readout: (p: ChartPoint) => string;
  /** Called once the chart has drawn these points (this very array). */
  onDrawn: (points: ChartPoint[]) => void;
  /** Ticks on the points themselves (weeks), not on calendar days. */
  tickOnPoints?: boolean;
}

export function TimeChart({ tooltipID, label, points, readout, onDrawn, tickOnPoints = false }: Props) {
  const wrapRef = useRef<HTMLDivElement>(null);
  const hostRef = useRef<HTMLDivElement>(null);
  const plotRef = useRef<uPlot | null>(null);
  // The latest props for uPlot's hooks, which are bound once per chart.
  const live = useRef({ points, readout, onDrawn });
  live.current = { points, readout, onDrawn };
  const drawnFor = useRef<ChartPoint[] | null>(null);
  const givenTo = useRef<ChartPoint[] | null>(null); // the points uPlot holds
  // Whether the readout follows the keyboard (then it is also announced).
  const keyboard = useRef(false);
  const [scheme, setScheme] = useState(0);
  const [announce, setAnnounce] = useState('');

  // The tooltip exists only while shown (the page holds one [role=tooltip]
  // at a time). It is plain DOM, moved on every cursor move without a render.
  const showTip = (u: uPlot) => {
    const wrap = wrapRef.current;
    const host = hostRef.current;
    if (!wrap || !host) return;
    const i = u.cursor.idx;
    const p = i == null ? undefined : live.current.points[i];
    let tip = wrap.querySelector<HTMLDivElement>(':scope > .chart-tooltip');
    if (p === undefined) {
      tip?.remove();
      host.removeAttribute('aria-describedby');
      return;
    }
    if (!tip) {
      tip = document.createElement('div');
      tip.className = 'chart-tooltip';
      tip.setAttribute('role', 'tooltip');
      tip.id = tooltipID;
      wrap.appendChild(tip);
      host.setAttribute('aria-describedby', tooltipID);
    }
    const text = live.current.readout(p);
    tip.textContent = text;
    const over = u.over.getBoundingClientRect();
    const box = wrap.getBoundingClientRect();
    const x = over.left - box.left + u.valToPos(p.x, 'x');
    const y = over.top - box.top + u.valToPos(p.y, 'y');
    const w = tip.offsetWidth;
    const above = y - tip.offsetHeight - 12;
    tip.style.left = `${Math.min(Math.max(x - w / 2, 0), Math.max(box.width - w, 0))}px`;
    tip.style.top = `${above >= 0 ? above : y + 12}px`;
    if (keyboard.current) setAnnounce(text);
  };

  const drawn = (u: uPlot) => {
    const pts = live.current.points;
    if (drawnFor.current === pts || u.data[0].length !== pts.length) return;
    drawnFor.current = pts;
    live.current.onDrawn(pts);
  };

  // Build the chart once the host has a width, follow the host's width, and
  // rebuild when the colour scheme flips (canvas colours are read at build).
  useLayoutEffect(() => {
    const host = hostRef.current;
    if (!host) return;
    let u: uPlot | null = null;
    const build = (width: number) => {
      givenTo.current = live.current.points;
      u = new uPlot(options(host, width, tickOnPoints, showTip, drawn), toData(givenTo.current), host);
      plotRef.current = u;
    };
    if (host.clientWidth > 0) build(host.clientWidth);
    const ro = new ResizeObserver(() => {
      const width = host.clientWidth;
      if (width <= 0) return;
      if (u === null) build(width);
      else if (width !== u.width) u.setSize({ width, height: chartHeight(width) });
    });
    ro.observe(host);
    return () => {
      ro.disconnect();
      u?.destroy();
      plotRef.current = null;
      drawnFor.current = null;
      wrapRef.current?.querySelector(':scope > .chart-tooltip')?.remove();
    };
  }, [scheme]);

  useEffect(() => {
    const mq = window.matchMedia('(prefers-color-scheme: dark)');
    const flip = () => setScheme((n) => n + 1);
    mq.addEventListener('change', flip);
    return () => mq.removeEventListener('change', flip);
  }, []);

  // New points: redraw in place (setData re-ranges both scales).
  useLayoutEffect(() => {
    const u = plotRef.current;
    if (!u || givenTo.current === points) return;
    givenTo.current = points;
    u.setCursor({ left: -10, top: -10 });
    u.setData(toData(points));
  }, [points]);

  const moveTo = (i: number) => {
    const u = plotRef.current;
    const p = points[i];
    if (!u || p === undefined) return;
    keyboard.current = true;
    u.setCursor({ left: u.valToPos(p.x, 'x'), top: u.valToPos(p.y, 'y') });
  };

  const hide = () => {
    keyboard.current = false;
    setAnnounce('');
    plotRef.current?.setCursor({ left: -10, top: -10 });
  };

  const onKeyDown = (e: KeyboardEvent) => {
    const u = plotRef.current;
    if (!u || points.length === 0) return;
    const cur = u.cursor.idx ?? -1;
    const last = points.length - 1;
    let next: number;
    switch (e.key) {
      case 'ArrowLeft':
        next = cur < 0 ? last : Math.max(cur - 1, 0);
        break;
      case 'ArrowRight':
        next = cur < 0 ? last : Math.min(cur + 1, last);
        break;
      case 'Home':
        next = 0;
        break;
      case 'End':
        next = last;
        break;
      case 'Escape':
        if (u.cursor.idx == null) return;
        e.stopPropagation();
        hide();
        return;
      default:
        return;
    }
    e.preventDefault();
    moveTo(next);
  };

  // The pointer, not uPlot's mousemove, moves the cursor: pointer events
  // carry fractional coordinates (mouse events are whole pixels, too coarse
  // when points are under 2 px apart), and the pointer anywhere over the plot
  // area or a few pixels around it (the right edge is the last point) reads
  // the nearest point. A tap does the same on a touch screen.
  const onPointer = (e: PointerEvent) => {
    const u = plotRef.current;
    if (!u) return;
    keyboard.current = false;
    const r = u.over.getBoundingClientRect();
    const x = e.clientX - r.left;
    const y = e.clientY - r.top;
    if (x < -edgeSlack || x > r.width + edgeSlack || y < 0 || y > r.height) {
      if (u.cursor.idx != null) u.setCursor({ left: -10, top: -10 });
      return;
    }
    u.setCursor({ left: Math.min(Math.max(x, 0), r.width), top: y });
  };

  return (
    <div class="chart" ref={wrapRef}>
      <div
        class="chart-plot"
        ref={hostRef}
        tabIndex={0}
        role="group"
        aria-roledescription="chart"
        aria-label={`${label}. Left and Right arrow keys read the values.`}
        onKeyDown={onKeyDown}
        onFocus={() => moveTo(plotRef.current?.cursor.idx ?? points.length - 1)}
        onBlur={hide}
        onPointerMove={onPointer}
        onPointerDown={onPointer}
        onPointerLeave={() => plotRef.current?.setCursor({ left: -10, top: -10 })}
      />
      <p class="visually-hidden" aria-live="polite">
        {announce}
      </p>
    </div>
  );
}

// How far outside the plot area, in CSS pixels, the pointer still reads the
// nearest point (within the chart's padding and the axis gutter).
const edgeSlack = 10;

// The least room, in CSS pixels, between two x axis labels.
const tickSpace = 64;

function chartHeight(width: number) {
  return width < 480 ? 200 : 260;
}

// Colours are CSS custom properties (activity.css, on the page's palette) so
// light and dark follow prefers-color-scheme; the canvas needs them as strings.
function palette(el: Element) {
  const cs = getComputedStyle(el);
  const v = (name: string, fallback: string) => cs.getPropertyValue(name).trim() || fallback;
  return {
    line: v('--chart-line', '#0b5cad'),
    fill: v('--chart-fill', 'rgba(11, 92, 173, 0.14)'),
    axis: v('--chart-axis', '#57606a'),
    grid: v('--chart-grid', 'rgba(27, 31, 36, 0.09)'),
    bg: v('--chart-bg', '#ffffff'),
    font: `12px ${cs.fontFamily || 'system-ui, sans-serif'}`,
  };
}

// Whole numbers only on the y axis: counts of users.
const countIncrs = (() => {
  const out: number[] = [];
  for (let mag = 1; mag <= 1e9; mag *= 10) out.push(mag, 2 * mag, 5 * mag);
  return out;
})();

// Ticks at least a day apart (the points are days): uPlot's steps from a day up.
const day = 86400;
const dayIncrs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15].map((n) => n * day).concat(
  [1, 2, 3, 4, 6].map((n) => n * 30 * day),
  [1, 2, 5, 10].map((n) => n * 365 * day),
);

const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

// "Jun 4" on day ticks; on month ticks "Jun", with the year on the first
// tick and on January. Always the UTC date.
function tickLabels(splits: number[], incr: number): string[] {
  return splits.map((ts, i) => {
    const d = new Date(ts * 1e3);
    const month = months[d.getUTCMonth()];
    if (incr < 28 * day) return `${month} ${d.getUTCDate()}`;
    return i === 0 || d.getUTCMonth() === 0 ? `${month} ${d.getUTCFullYear()}` : month;
  });
}

function options(el: HTMLElement, width: number, tickOnPoints: boolean, onCursor: (u: uPlot) => void, onDraw: (u: uPlot) => void): uPlot.Options {
  const c = palette(el);
  const axis = {
    stroke: c.axis,
    font: c.font,
    grid: { stroke: c.grid, width: 1 },
    ticks: { stroke: c.grid, width: 1 },
  };
  return {
    width,
    height: chartHeight(width),
    // Points are UTC days: ticks fall on UTC days whatever the browser's zone.
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1e3), 'Etc/UTC'),
    legend: { show: false },
    padding: [12, 24, 0, 0],
    scales: {
      // Exactly the first to the last point, so point i of n sits at
      // width*i/(n-1) of the plot area; a single point sits in the middle.
      x: {
        time: true,
        range: (u) => {
          const xs = u.data[0];
          if (xs.length === 0) return [0, 86400];
          const first = xs[0];
          const last = xs[xs.length - 1];
          return first === last ? [first - 43200, last + 43200] : [first, last];
        },
      },
      // From zero to a whole number a little above the highest count.
      y: { range: (_u, _min, max) => [0, Math.max(1, Math.ceil(max * 1.1))] },
    },
    axes: [
      {
        ...axis,
        space: tickSpace,
        size: 36,
        incrs: dayIncrs,
        splits: tickOnPoints ? pointTicks : undefined,
        values: (_u, splits, _i, _space, incr) => tickLabels(splits, tickOnPoints ? 0 : incr),
      },
      { ...axis, size: 40, incrs: countIncrs, values: (_u, splits) => splits.map((v) => String(v)) },
    ],
    series: [
      {},
      {
        label: 'Active users',
        stroke: c.line,
        fill: c.fill,
        width: 2,
        points: { size: 5, fill: c.line, stroke: c.line },
      },
    ],
    cursor: {
      y: false,
      // No drag-to-zoom: the x scale stays first..last point.
      drag: { x: false, y: false, setScale: false },
      // The crosshair sits on the point read, not between points.
      move: (u, left, top) => {
        const xs = u.data[0];
        if (left < 0 || xs.length === 0) return [left, top];
        return [u.valToPos(xs[u.posToIdx(left)], 'x'), top];
      },
      // The component's pointer handlers move and hide the cursor instead.
      bind: { mousemove: () => null, mouseleave: () => null },
      points: { size: 9, width: 2, fill: c.line, stroke: c.bg },
    },
    hooks: { setCursor: [onCursor], draw: [onDraw] },
  };
}

// Every k-th point, k as small as keeps labels tickSpace pixels apart.
function pointTicks(u: uPlot): number[] {
  const xs = u.data[0];
  const perPoint = u.bbox.width / uPlot.pxRatio / Math.max(xs.length - 1, 1);
  const k = Math.max(1, Math.ceil(tickSpace / perPoint));
  return Array.from(xs).filter((_, i) => i % k === 0);
}

function toData(points: ChartPoint[]): uPlot.AlignedData {
  return [points.map((p) => p.x), points.map((p) => p.y)];
}
