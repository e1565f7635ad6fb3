/**
 * Reads `/metrics` with a real parser of the Prometheus text exposition format
 * (`parse-prometheus-text-format`, a port of Prometheus's own), not with string matching.
 *
 * @module
 */
import parsePrometheusTextFormat from "parse-prometheus-text-format";

/** A sample of a counter or gauge. */
export interface Sample {
  labels: Record<string, string>;
  value: number;
}

/** A histogram's series. */
export interface HistogramSample {
  labels: Record<string, string>;
  buckets: Record<string, number>;
  count: number;
  sum: number;
}

/** One metric family. */
export interface Family {
  name: string;
  help: string;
  type: "COUNTER" | "GAUGE" | "HISTOGRAM" | "SUMMARY" | "UNTYPED";
  samples: Sample[];
  histograms: HistogramSample[];
}

interface RawMetric {
  value?: string;
  labels?: Record<string, string>;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}

/** Parses exposition text into families by name; throws on text the parser refuses. */
export function parseMetrics(text: string): Map<string, Family> {
  const raw = parsePrometheusTextFormat(text) as {
    name: string;
    help: string;
    type: Family["type"];
    metrics: RawMetric[];
  }[];
  const families = new Map<string, Family>();
  for (const f of raw) {
    const family: Family = { name: f.name, help: f.help, type: f.type, samples: [], histograms: [] };
    for (const m of f.metrics) {
      const labels = m.labels ?? {};
      if (m.buckets !== undefined) {
        const buckets = Object.fromEntries(Object.entries(m.buckets).map(([le, v]) => [le, Number(v)]));
        family.histograms.push({ labels, buckets, count: Number(m.count), sum: Number(m.sum) });
      } else {
        family.samples.push({ labels, value: Number(m.value) });
      }
    }
    families.set(f.name, family);
  }
  return families;
}

/** Fetches and parses `/metrics` on a loopback port. */
export async function fetchMetrics(port: number): Promise<Map<string, Family>> {
  const response = await fetch(`http://127.0.0.1:${port}/metrics`);
  if (!response.ok) throw new Error(`/metrics answered ${response.status}`);
  return parseMetrics(await response.text());
}

/**
 * The sum of a family's samples whose labels include every one of `labels`; 0 when no sample
 * matches or the family is absent (prom-client shows a labelled counter once it was counted).
 */
export function sumOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  if (family === undefined) return 0;
  let sum = 0;
  for (const s of family.samples) {
    if (Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}
