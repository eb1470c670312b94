// Requests to the Kubernetes API by verb and HTTP status (code="0": no answer), and their
// duration, as client-go's rest_client_requests_total; fed by the kube adapter's onRequest hook.
import { Counter, Histogram, type Registry } from 'prom-client';

export function createApiRequestMetrics(registry: Registry): (verb: string, code: number, seconds: number) => void {
  const requests = new Counter({
    name: 'sluice_kube_requests_total',
    help: 'Requests to the Kubernetes API by verb (HTTP method) and status code',
    labelNames: ['verb', 'code'],
    registers: [registry],
  });
  const duration = new Histogram({
    name: 'sluice_kube_request_duration_seconds',
    help: 'Time of one request to the Kubernetes API',
    labelNames: ['verb'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [registry],
  });
  return (verb, code, seconds) => {
    requests.inc({ verb, code: String(code) });
    duration.observe({ verb }, seconds);
  };
}
