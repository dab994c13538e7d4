/// All series of one counter metric. `labels(...)` returns the child for a value list,
/// creating it on first use and returning the same object afterwards: keep it on hot paths.
///
/// ```swift
/// let requests = registry.counter("http_requests_total", help: "Requests answered.",
///                                 labelNames: ["route", "code"])
/// let ok = requests.labels("/code", "200")   // cache this
/// ok.inc()
/// ```
public final class CounterFamily: MetricFamily, Sendable {
    public let name: String
    public let help: String
    private let children: LabeledChildren<Counter>

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        self.children = LabeledChildren(metric: name, labelNames: labelNames) { Counter() }
    }

    public var labelNames: [String] { children.labelNames }

    /// The series for these label values (one per label name, in order).
    public func labels(_ values: String...) -> Counter { children.child(values) }

    /// The series for these label values (one per label name, in order).
    public func labels(_ values: [String]) -> Counter { children.child(values) }

    /// Stops exporting a series. A cached child keeps counting but is no longer rendered;
    /// asking `labels` again afterwards starts a new series at zero.
    public func remove(_ values: String...) { children.remove(values) }

    /// Stops exporting a series (see `remove(_: String...)`).
    public func remove(_ values: [String]) { children.remove(values) }

    /// Stops exporting every series.
    public func removeAll() { children.removeAll() }

    var typeName: String { "counter" }
    var sampleNames: [String] { [name] }

    func renderSamples(into out: inout String) {
        for (values, child) in children.sorted() {
            PrometheusText.appendSample(
                &out, name: name, labels: PrometheusText.labelSet(names: labelNames, values: values),
                value: child.value)
        }
    }
}
