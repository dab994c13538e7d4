import Crypto

/// The immutable set of loaded seeds, keyed by label. A reload builds a new store and swaps it
/// in whole. The fingerprint covers labels and parameters, never the seeds, so operators can
/// compare instances safely.
///
/// ```swift
/// let store = try SeedLoader(environment: .current()).load().store
/// store.entry(for: "certus")?.code(at: now)
/// ```
public struct SeedStore: Sendable {
    public let entries: [String: SeedEntry]
    /// `sha256:<hex>` over the sorted `label algorithm digits period` lines.
    public let fingerprint: String

    public init(entries: [SeedEntry]) {
        var map: [String: SeedEntry] = [:]
        for e in entries { map[e.label] = e }
        self.entries = map
        let lines = map.values.sorted { $0.label < $1.label }
            .map { "\($0.label) \($0.parameters.algorithm.name) \($0.parameters.digits) \($0.parameters.period)\n" }
            .joined()
        self.fingerprint = "sha256:" + Crypto.hex(Crypto.sha256(Array(lines.utf8)))
    }

    /// Sorted labels.
    public var labels: [String] { entries.keys.sorted() }

    public var count: Int { entries.count }

    /// Looks a label up case-insensitively.
    public func entry(for label: String) -> SeedEntry? {
        entries[label] ?? entries[label.lowercased()]
    }

    /// Labels whose seed is shorter than 128 bits.
    public var weakLabels: [String] { entries.values.filter(\.isWeak).map(\.label).sorted() }
}
