/// All series of one histogram metric, sharing one set of bucket bounds; `labels(...)`
/// returns a cached child.
///
/// ```swift
/// let latency = registry.histogram("request_duration_seconds", help: "Time to answer.",
///                                  labelNames: ["route"], buckets: MetricsRegistry.defaultBuckets)
/// latency.labels("/code").observe(0.0031)
/// ```
public final class HistogramFamily: MetricFamily, Sendable {
    public let name: String
    public let help: String
    /// Finite upper bounds, sorted and without duplicates; `+Inf` is always added on output.
    public let buckets: [Double]
    private let children: LabeledChildren<Histogram>

    init(name: String, help: String, labelNames: [String], buckets: [Double]) {
        self.name = name
        self.help = help
        self.buckets = buckets
        self.children = LabeledChildren(metric: name, labelNames: labelNames) {
            Histogram(upperBounds: buckets)
        }
    }

    public var labelNames: [String] { children.labelNames }

    /// The series for these label values (one per label name, in order).
    public func labels(_ values: String...) -> Histogram { children.child(values) }

    /// The series for these label values (one per label name, in order).
    public func labels(_ values: [String]) -> Histogram { children.child(values) }

    /// Stops exporting a series; a cached child is no longer rendered.
    public func remove(_ values: String...) { children.remove(values) }

    /// Stops exporting a series; a cached child is no longer rendered.
    public func remove(_ values: [String]) { children.remove(values) }

    /// Stops exporting every series.
    public func removeAll() { children.removeAll() }

    var typeName: String { "histogram" }
    var sampleNames: [String] { [name + "_bucket", name + "_sum", name + "_count"] }

    func renderSamples(into out: inout String) {
        let bucketName = name + "_bucket"
        let bounds = buckets.map(PrometheusText.format) + ["+Inf"]
        for (values, child) in children.sorted() {
            let (cumulative, sum, count) = child.snapshot()
            for (bound, total) in zip(bounds, cumulative) {
                let labels = PrometheusText.labelSet(names: labelNames, values: values, extra: ("le", bound))
                PrometheusText.appendSample(&out, name: bucketName, labels: labels, value: Double(total))
            }
            let labels = PrometheusText.labelSet(names: labelNames, values: values)
            PrometheusText.appendSample(&out, name: name + "_sum", labels: labels, value: sum)
            PrometheusText.appendSample(&out, name: name + "_count", labels: labels, value: Double(count))
        }
    }

    /// Sorts, removes duplicates and `+Inf` (always added on output); NaN or `-Inf` bounds are
    /// programming errors.
    static func normalize(_ buckets: [Double], metric: String) -> [Double] {
        precondition(
            !buckets.contains { $0.isNaN || $0 == -.infinity },
            "histogram \(metric): bucket bounds must be numbers, got \(buckets)")
        var result: [Double] = []
        for bound in buckets.sorted() where bound != .infinity && result.last != bound {
            result.append(bound)
        }
        return result
    }
}
