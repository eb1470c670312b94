// A metrics backend whose answers a test sets: by default every query answers `value`.
import type { MetricQueryOutcome, MetricsProvider, MetricsProviderFactory, MetricsQuery } from '../../src/ports/metrics.ts';

export class FakeMetrics implements MetricsProviderFactory {
  /** The next answers, per query substring; the first matching rule wins. */
  rules: Array<{ match: string; outcome: () => MetricQueryOutcome }> = [];
  readonly queries: string[] = [];

  answer(match: string, value: number | 'empty' | 'unreachable'): void {
    this.rules = this.rules.filter((r) => r.match !== match);
    this.rules.unshift({
      match,
      outcome: () =>
        value === 'unreachable'
          ? { ok: false, error: { kind: 'unreachable', message: 'connect ECONNREFUSED 127.0.0.1:9090' } }
          : { ok: true, result: { type: 'vector', series: value === 'empty' ? [] : [{ labels: {}, value }] } },
    });
  }

  /** A web metric's reply: the JSON document (the metric's jsonPath selects from it). */
  answerJson(match: string, document: unknown): void {
    this.rules = this.rules.filter((r) => r.match !== match);
    this.rules.unshift({ match, outcome: () => ({ ok: true, result: { type: 'json', document: structuredClone(document) as never } }) });
  }

  async forMetric(): Promise<{ ok: true; provider: MetricsProvider }> {
    return {
      ok: true,
      provider: {
        type: 'prometheus',
        query: async (q: MetricsQuery) => {
          this.queries.push(q.query);
          const rule = this.rules.find((r) => q.query.includes(r.match));
          return rule ? rule.outcome() : { ok: false, error: { kind: 'queryError', message: `no fake answer for ${q.query}` } };
        },
      },
    };
  }
}
