import Crypto
import Platform

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
        map.reserveCapacity(entries.count)
        for e in entries { map[e.label] = e }
        self.entries = map
        // Written into one buffer: a String per line, joined, was a sixth of a 30,000-label load.
        var lines: [UInt8] = []
        lines.reserveCapacity(map.count * 40)
        for e in map.values.sorted(by: { $0.label < $1.label }) {
            lines.append(utf8: e.label)
            lines.append(static: " ")
            lines.append(utf8: e.parameters.algorithm.name)
            lines.append(static: " ")
            lines.append(decimal: e.parameters.digits)
            lines.append(static: " ")
            lines.append(decimal: e.parameters.period)
            lines.append(static: "\n")
        }
        self.fingerprint = "sha256:" + Crypto.hex(Crypto.sha256(lines))
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

    /// How many seeds are shorter than 128 bits (without listing them).
    public var weakCount: Int { entries.values.reduce(0) { $0 + ($1.isWeak ? 1 : 0) } }
}
