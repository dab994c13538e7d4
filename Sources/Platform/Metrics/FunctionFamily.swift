import Synchronization

/// A counter or gauge family whose series are computed at render time by a closure, for
/// values owned elsewhere (open connections of a server, `process_*` from `/proc`).
///
/// ```swift
/// registry.gaugeFunction("http_open_connections", help: "Open client connections.") {
///     [([], Double(server.openConnections))]
/// }
/// ```
final class FunctionFamily: MetricFamily, Sendable {
    /// Counter or gauge: only the TYPE line differs.
    enum Kind: String, Sendable {
        case counter
        case gauge
    }

    let name: String
    let help: String
    let labelNames: [String]
    let kind: Kind
    // Replaceable so a component that is rebuilt (e.g. a restarted listener) can re-register.
    private let read: Mutex<@Sendable () -> [([String], Double)]>

    init(name: String, help: String, labelNames: [String], kind: Kind,
         read: @escaping @Sendable () -> [([String], Double)]) {
        self.name = name
        self.help = help
        self.labelNames = labelNames
        self.kind = kind
        self.read = Mutex(read)
    }

    func replaceReader(_ reader: @escaping @Sendable () -> [([String], Double)]) {
        read.withLock { $0 = reader }
    }

    var typeName: String { kind.rawValue }
    var sampleNames: [String] { [name] }

    func renderSamples(into out: inout String) {
        // Called outside the lock: a reader may take its own locks.
        let reader = read.withLock { $0 }
        let series = reader()
        for (values, _) in series {
            precondition(
                values.count == labelNames.count,
                "metric \(name) has labels \(labelNames) but its reader returned \(values)")
        }
        // A stable sort keeps the first of duplicate label sets, then duplicates are dropped:
        // two samples with the same labels would make the whole scrape invalid.
        let sorted = series.enumerated().sorted { a, b in
            if a.element.0 == b.element.0 { return a.offset < b.offset }
            return PrometheusText.seriesOrder(a.element.0, b.element.0)
        }
        var previous: [String]? = nil
        for (_, (values, value)) in sorted {
            if values == previous { continue }
            previous = values
            PrometheusText.appendSample(
                &out, name: name, labels: PrometheusText.labelSet(names: labelNames, values: values),
                value: value)
        }
    }
}
