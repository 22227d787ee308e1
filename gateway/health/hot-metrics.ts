import { Counter, Gauge, type Registry } from 'prom-client';

/**
 * Metrics written on the decision path and on every OSDP exchange: thousands
 * of times a second in a stadium surge. prom-client's own `inc`/`set` hash
 * the label object on every call (label names sorted, every value checked,
 * a key string built) and then look that key up in a dictionary; in a
 * `--cpu-prof` of the surge that was 4 % of the gateway's busy time.
 *
 * Here a write is a Map lookup per label (or none, for a caller that keeps
 * its cell) and an addition: 0.08 µs against prom-client's 0.45 µs per
 * increment in a loop over 64 lanes. (In the surge itself the gain is below
 * what the shared build machine can resolve; docs/benchmarks.md, seventh
 * session.) prom-client reads the cells when it is scraped (`collect`), so
 * /metrics, `registry.metrics()` and `metric.get()` see the same values as
 * before.
 */
export interface Cell {
  value: number;
}

type Labels<L extends string> = Record<L, string>;

type Node<L extends string> = Map<string, Node<L> | LabelledCell<L>>;
type LabelledCell<L extends string> = Cell & { labels: Labels<L> };

/**
 * Label sets and their values, in a tree of Maps by label value in
 * label-name order. No key string is built: a value that is the same string
 * each time (a lane id from the config, a reason constant) keeps its hash,
 * so a write costs one Map lookup per label.
 */
class Cells<L extends string> {
  private readonly root: Node<L> = new Map();
  private readonly all: Array<LabelledCell<L>> = [];

  constructor(private readonly labelNames: readonly L[]) {
    // An unlabelled metric has one value: prom-client's own inc/set cost nothing to speak of there.
    if (labelNames.length === 0) throw new RangeError('a hot metric needs at least one label');
  }

  get(labels: Labels<L>): Cell {
    const names = this.labelNames;
    let node = this.root;
    const last = names.length - 1;
    for (let i = 0; i < last; i++) {
      const value = labels[names[i]!];
      let next = node.get(value) as Node<L> | undefined;
      if (!next) node.set(value, (next = new Map()));
      node = next;
    }
    const value = labels[names[last]!];
    let cell = node.get(value) as LabelledCell<L> | undefined;
    if (!cell) {
      const copy = {} as Labels<L>;
      for (const n of names) copy[n] = labels[n];
      cell = { labels: copy, value: 0 };
      node.set(value, cell);
      this.all.push(cell);
    }
    return cell;
  }

  entries(): readonly LabelledCell<L>[] {
    return this.all;
  }
}

interface HotConfig<L extends string> {
  name: string;
  help: string;
  labelNames: readonly L[];
}

export class HotCounter<L extends string> {
  private readonly cells: Cells<L>;
  private readonly metric: Counter<L>;

  constructor(registry: Registry, config: HotConfig<L>) {
    const cells = (this.cells = new Cells(config.labelNames));
    this.metric = new Counter<L>({
      ...config,
      registers: [registry],
      collect() {
        this.reset();
        for (const c of cells.entries()) this.inc(c.labels, c.value);
      },
    });
  }

  inc(labels: Labels<L>, value = 1): void {
    if (!(value >= 0)) throw new RangeError(`a counter only goes up (got ${value})`);
    this.cells.get(labels).value += value;
  }

  /** The cell of one label set, for a caller that counts the same labels again and again (`cell.value++`). */
  cell(labels: Labels<L>): Cell {
    return this.cells.get(labels);
  }

  /** The values as prom-client reports them. */
  get(): ReturnType<Counter<L>['get']> {
    return this.metric.get();
  }
}

export class HotGauge<L extends string> {
  private readonly cells: Cells<L>;

  constructor(registry: Registry, config: HotConfig<L>) {
    const cells = (this.cells = new Cells(config.labelNames));
    new Gauge<L>({
      ...config,
      registers: [registry],
      collect() {
        this.reset();
        for (const c of cells.entries()) this.set(c.labels, c.value);
      },
    });
  }

  set(labels: Labels<L>, value: number): void {
    this.cells.get(labels).value = value;
  }
}

const shared = new WeakMap<Registry, Map<string, HotCounter<string>>>();

/** One HotCounter per registry and name, shared by every device of a driver kind (told apart by their `device` label). */
export function sharedHotCounter<L extends string>(registry: Registry, config: HotConfig<L>): HotCounter<L> {
  let byName = shared.get(registry);
  if (!byName) shared.set(registry, (byName = new Map()));
  const existing = byName.get(config.name);
  if (existing) return existing as unknown as HotCounter<L>;
  const made = new HotCounter(registry, config);
  byName.set(config.name, made as unknown as HotCounter<string>);
  return made;
}
