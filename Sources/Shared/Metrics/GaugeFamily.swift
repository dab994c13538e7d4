/// All series of one gauge metric; `labels(...)` returns a cached child.
///
/// ```swift
/// let leader = registry.gauge("bot_is_leader", help: "1 while this bot holds the lock.")
/// leader.labels().set(1)
/// ```
public final class GaugeFamily: MetricFamily, Sendable {
    public let name: String
    public let help: String
    private let children: LabeledChildren<Gauge>

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        self.children = LabeledChildren(metric: name, labelNames: labelNames) { Gauge() }
    }

    public var labelNames: [String] { children.labelNames }

    /// The series for these label values (one per label name, in order).
    public func labels(_ values: String...) -> Gauge { children.child(values) }

    /// The series for these label values (one per label name, in order).
    public func labels(_ values: [String]) -> Gauge { children.child(values) }

    /// Stops exporting a series; a cached child is no longer rendered.
    public func remove(_ values: String...) { children.remove(values) }

    /// Stops exporting a series; a cached child is no longer rendered.
    public func remove(_ values: [String]) { children.remove(values) }

    /// Stops exporting every series.
    public func removeAll() { children.removeAll() }

    var typeName: String { "gauge" }
    var sampleNames: [String] { [name] }

    func renderSamples(into out: inout String) {
        for (values, child) in children.sorted() {
            PrometheusText.appendSample(
                &out, name: name, labels: PrometheusText.labelSet(names: labelNames, values: values),
                value: child.value)
        }
    }
}
