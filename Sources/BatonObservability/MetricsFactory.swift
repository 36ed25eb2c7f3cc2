import BatonCore
import Prometheus

extension PrometheusMetricsFactory {
    /// A factory that exports swift-metrics into `registry`, with each histogram of
    /// ``BatonCore/MetricCatalog`` bucketed as the catalog says (seconds).
    public static func baton(registry: PrometheusCollectorRegistry) -> PrometheusMetricsFactory {
        var factory = PrometheusMetricsFactory(registry: registry)
        for metric in MetricCatalog.all where metric.kind == .histogram {
            factory.durationHistogramBuckets[metric.name] = metric.buckets.map {
                .nanoseconds(Int64(($0 * 1e9).rounded()))
            }
        }
        return factory
    }
}
