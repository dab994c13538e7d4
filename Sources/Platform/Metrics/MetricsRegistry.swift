import Synchronization

/// A Prometheus metrics registry keyed by metric name, rendering the text exposition format
/// 0.0.4: families sorted by name, `# HELP` and `# TYPE` once per family, series sorted by
/// label values, label values and help text escaped.
///
/// Registering a name again returns the existing family when type and label names (and
/// histogram buckets) match; any other reuse of a name is a programming error and stops the
/// process, as is an invalid metric or label name.
///
/// ```swift
/// let registry = MetricsRegistry()
/// let requests = registry.counter("http_requests_total", help: "Requests answered.",
///                                 labelNames: ["code"])
/// requests.labels("200").inc()
/// registry.gaugeFunction("http_open_connections", help: "Open connections.") { [([], 3)] }
/// ProcessMetrics.register(in: registry)
/// let body = registry.render()   // serve with Content-Type: MetricsRegistry.contentType
/// ```
public final class MetricsRegistry: Sendable {
    /// The `Content-Type` of `render()` output.
    public static let contentType = "text/plain; version=0.0.4; charset=utf-8"

    /// The Prometheus client default buckets, in seconds (5 ms to 10 s).
    public static let defaultBuckets: [Double] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

    /// `count` bounds starting at `start`, each `factor` times the previous one.
    public static func exponentialBuckets(start: Double, factor: Double, count: Int) -> [Double] {
        precondition(start > 0 && factor > 1 && count > 0, "exponentialBuckets needs start > 0, factor > 1, count > 0")
        var bounds: [Double] = []
        var bound = start
        for _ in 0..<count {
            bounds.append(bound)
            bound *= factor
        }
        return bounds
    }

    /// A registered family of any kind.
    private enum Entry: Sendable {
        case counter(CounterFamily)
        case gauge(GaugeFamily)
        case histogram(HistogramFamily)
        case function(FunctionFamily)

        var family: any MetricFamily {
            switch self {
            case .counter(let family): family
            case .gauge(let family): family
            case .histogram(let family): family
            case .function(let family): family
            }
        }
    }

    /// Families by name, guarded by the registry's lock.
    private struct State {
        var families: [String: Entry] = [:]
        // Every sample name in use, mapped to the family writing it: a counter called
        // `x_count` next to a histogram `x` would otherwise produce clashing series.
        var sampleOwners: [String: String] = [:]
    }

    private let state = Mutex(State())

    public init() {}

    /// A counter family. Name it with a `_total` suffix (promtool insists).
    public func counter(_ name: String, help: String, labelNames: [String] = []) -> CounterFamily {
        register(name, help: help, labelNames: labelNames, type: "counter") { entry in
            guard case .counter(let family)? = entry else { return nil }
            return family
        } make: {
            let family = CounterFamily(name: name, help: help, labelNames: labelNames)
            return (.counter(family), family)
        }
    }

    /// A gauge family.
    public func gauge(_ name: String, help: String, labelNames: [String] = []) -> GaugeFamily {
        register(name, help: help, labelNames: labelNames, type: "gauge") { entry in
            guard case .gauge(let family)? = entry else { return nil }
            return family
        } make: {
            let family = GaugeFamily(name: name, help: help, labelNames: labelNames)
            return (.gauge(family), family)
        }
    }

    /// A histogram family. `buckets` are finite upper bounds in any order; `+Inf` is always
    /// added, so an empty list gives a histogram with only the `+Inf` bucket.
    public func histogram(_ name: String, help: String, labelNames: [String] = [], buckets: [Double]) -> HistogramFamily {
        precondition(!labelNames.contains("le"), "histogram \(name): the label name `le` is reserved")
        let bounds = HistogramFamily.normalize(buckets, metric: name)
        return register(name, help: help, labelNames: labelNames, type: "histogram") { entry in
            guard case .histogram(let family)? = entry else { return nil }
            precondition(family.buckets == bounds, "histogram \(name) re-registered with other buckets")
            return family
        } make: {
            let family = HistogramFamily(name: name, help: help, labelNames: labelNames, buckets: bounds)
            return (.histogram(family), family)
        }
    }

    /// A gauge whose series are computed at render time: `read` returns `(labelValues, value)`
    /// pairs. It runs on the rendering thread, outside the registry's lock. Registering the
    /// same name again replaces the reader.
    public func gaugeFunction(
        _ name: String, help: String, labelNames: [String] = [],
        _ read: @escaping @Sendable () -> [([String], Double)]
    ) {
        registerFunction(name, help: help, labelNames: labelNames, kind: .gauge, read)
    }

    /// A counter computed at render time (see `gaugeFunction`). Name it with `_total`.
    public func counterFunction(
        _ name: String, help: String, labelNames: [String] = [],
        _ read: @escaping @Sendable () -> [([String], Double)]
    ) {
        registerFunction(name, help: help, labelNames: labelNames, kind: .counter, read)
    }

    /// The exposition text: every family sorted by name, ending with a newline (empty when
    /// nothing is registered).
    public func render() -> String {
        // Families are rendered outside the registry lock: function readers may be slow or
        // take other locks, and registration must not wait behind a scrape.
        let families = state.withLock { state in
            state.families.sorted { $0.key < $1.key }.map { $0.value.family }
        }
        var out = ""
        out.reserveCapacity(families.count * 160)
        for family in families {
            out += "# HELP "
            out += family.name
            out += " "
            out += PrometheusText.escapeHelp(family.help)
            out += "\n# TYPE "
            out += family.name
            out += " "
            out += family.typeName
            out += "\n"
            family.renderSamples(into: &out)
        }
        return out
    }

    private func registerFunction(
        _ name: String, help: String, labelNames: [String], kind: FunctionFamily.Kind,
        _ read: @escaping @Sendable () -> [([String], Double)]
    ) {
        let family = register(name, help: help, labelNames: labelNames, type: kind.rawValue) { entry -> FunctionFamily? in
            guard case .function(let family)? = entry, family.kind == kind else { return nil }
            return family
        } make: {
            let family = FunctionFamily(name: name, help: help, labelNames: labelNames, kind: kind, read: read)
            return (.function(family), family)
        }
        family.replaceReader(read)
    }

    /// Returns the existing family of `name` when `existing` accepts it and its label names
    /// match, or registers a new one from `make`.
    private func register<F: MetricFamily>(
        _ name: String, help: String, labelNames: [String], type: String,
        existing: (Entry?) -> F?, make: () -> (Entry, F)
    ) -> F {
        precondition(PrometheusText.isValidMetricName(name), "invalid metric name \"\(name)\"")
        for label in labelNames {
            precondition(PrometheusText.isValidLabelName(label), "metric \(name): invalid label name \"\(label)\"")
        }
        precondition(Set(labelNames).count == labelNames.count, "metric \(name): duplicate label names \(labelNames)")
        return state.withLock { state in
            if let entry = state.families[name] {
                guard let family = existing(entry), family.labelNames == labelNames else {
                    preconditionFailure(
                        "metric \(name) already registered as \(entry.family.typeName) with labels "
                            + "\(entry.family.labelNames); cannot register it as \(type) with labels \(labelNames)")
                }
                return family
            }
            let (entry, family) = make()
            for sample in family.sampleNames {
                if let owner = state.sampleOwners[sample] {
                    preconditionFailure("metric \(name) would write samples named \(sample), already written by \(owner)")
                }
            }
            for sample in family.sampleNames { state.sampleOwners[sample] = name }
            state.families[name] = entry
            return family
        }
    }
}
