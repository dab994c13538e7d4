import Synchronization

/// The children of one metric family, keyed by their label values: one child per distinct
/// label-value list, created on first use and kept so callers can cache it.
///
/// ```swift
/// let store = LabeledChildren<Counter>(metric: "http_requests_total", labelNames: ["code"]) { Counter() }
/// store.child(["200"]).inc()
/// ```
final class LabeledChildren<Child: Sendable>: Sendable {
    let metric: String
    let labelNames: [String]
    private let make: @Sendable () -> Child
    // A dictionary keyed by the full value list makes a duplicate series impossible.
    private let children: Mutex<[[String]: Child]>

    init(metric: String, labelNames: [String], make: @escaping @Sendable () -> Child) {
        self.metric = metric
        self.labelNames = labelNames
        self.make = make
        // A family without labels has exactly one series, visible (at zero) from registration
        // on, as Prometheus client libraries do: a scrape never sees it appear late.
        self.children = Mutex(labelNames.isEmpty ? [[]: make()] : [:])
    }

    func child(_ values: [String]) -> Child {
        checkCount(values)
        return children.withLock { dict in
            if let existing = dict[values] { return existing }
            let created = make()
            dict[values] = created
            return created
        }
    }

    func remove(_ values: [String]) {
        checkCount(values)
        _ = children.withLock { $0.removeValue(forKey: values) }
    }

    func removeAll() {
        children.withLock { $0.removeAll() }
    }

    /// The series in exposition order.
    func sorted() -> [(values: [String], child: Child)] {
        let snapshot = children.withLock { dict in dict.map { (values: $0.key, child: $0.value) } }
        return snapshot.sorted { PrometheusText.seriesOrder($0.values, $1.values) }
    }

    private func checkCount(_ values: [String]) {
        precondition(
            values.count == labelNames.count,
            "metric \(metric) has labels \(labelNames) but was given \(values.count) value(s)")
    }
}
