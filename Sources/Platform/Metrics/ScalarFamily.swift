/// A metric series holding one number: a `Counter` or a `Gauge`.
///
/// ```swift
/// let family: ScalarFamily<Counter> = registry.counter("x_total", help: "X.")
/// ```
public protocol ScalarMetric: AnyObject, Sendable {
    init()
    var value: Double { get }
    /// The Prometheus `# TYPE` of the family.
    static var typeName: String { get }
}

/// All series of one counter or gauge metric. `labels(...)` returns the child for a value list,
/// creating it on first use and returning the same object afterwards: keep it on hot paths.
///
/// ```swift
/// let requests = registry.counter("http_requests_total", help: "Requests answered.",
///                                 labelNames: ["route", "code"])
/// let ok = requests.labels("/code", "200")   // cache this
/// ok.inc()
/// registry.gauge("bot_leader", help: "1 while this bot holds the lock.").labels().set(1)
/// ```
public final class ScalarFamily<Child: ScalarMetric>: MetricFamily, Sendable {
    public let name: String
    public let help: String
    private let children: LabeledChildren<Child>

    init(name: String, help: String, labelNames: [String]) {
        self.name = name
        self.help = help
        self.children = LabeledChildren(metric: name, labelNames: labelNames) { Child() }
    }

    public var labelNames: [String] { children.labelNames }

    /// The series for these label values (one per label name, in order).
    public func labels(_ values: String...) -> Child { children.child(values) }

    /// The series for these label values (one per label name, in order).
    public func labels(_ values: [String]) -> Child { children.child(values) }

    /// Stops exporting a series. A cached child keeps its value but is no longer rendered;
    /// asking `labels` again afterwards starts a new series at zero.
    public func remove(_ values: String...) { children.remove(values) }

    /// Stops exporting a series (see `remove(_: String...)`).
    public func remove(_ values: [String]) { children.remove(values) }

    /// Stops exporting every series.
    public func removeAll() { children.removeAll() }

    var typeName: String { Child.typeName }
    var sampleNames: [String] { [name] }

    func renderSamples(into out: inout String) {
        for (values, child) in children.sorted() {
            PrometheusText.appendSample(
                &out, name: name, labels: PrometheusText.labelSet(names: labelNames, values: values),
                value: child.value)
        }
    }
}

/// All series of one counter metric.
public typealias CounterFamily = ScalarFamily<Counter>

/// All series of one gauge metric.
public typealias GaugeFamily = ScalarFamily<Gauge>
