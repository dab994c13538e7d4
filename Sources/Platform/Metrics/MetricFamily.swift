/// What the registry needs from every family to render it: the sample lines after the
/// `# HELP` / `# TYPE` header, in exposition order.
///
/// ```swift
/// var out = ""
/// family.renderSamples(into: &out)   // "requests_total{code=\"200\"} 3\n..."
/// ```
protocol MetricFamily: Sendable {
    var name: String { get }
    var help: String { get }
    var labelNames: [String] { get }
    /// `counter`, `gauge` or `histogram`.
    var typeName: String { get }
    /// Sample names the family writes (for a histogram `_bucket`, `_sum`, `_count`).
    var sampleNames: [String] { get }
    func renderSamples(into out: inout String)
}
