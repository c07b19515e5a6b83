/** Prometheus metrics: the collectors (`createMetrics`) and the `[metrics]` listener. */
export { createMetrics, type Metrics, type MetricsOptions } from './metrics.js';
export { startMetricsServer, type MetricsServer, type MetricsServerOptions } from './server.js';
