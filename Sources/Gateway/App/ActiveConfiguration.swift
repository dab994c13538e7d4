import Platform

/// What a `/code` request needs from the active snapshot: its seeds (looked up in the store's
/// own table) and each label's codes-issued counter. Swapped whole with the snapshot, so a
/// request takes one reference and never mixes two generations. It adds nothing per label
/// unless `/metrics` splits codes by label: at 30,000 labels a second table of routes with
/// pre-rendered JSON fragments cost about 180 bytes a label (5 MiB) to save a few `memcpy`s.
///
/// ```swift
/// let active = ActiveConfiguration(snapshot: snap, perLabel: false, issued: metrics.activate(snap, previous: nil))
/// active.snapshot.seeds.entries["certus"]?.code(at: now)
/// active.issued("certus").inc()
/// ```
final class ActiveConfiguration: Sendable {
    let snapshot: GatewaySnapshot
    /// One counter per label when `/metrics` splits by label, else empty.
    private let perLabel: [String: Counter]
    /// The counter of every label when `/metrics` does not split by label.
    private let total: Counter?

    /// `issued` gives each label's codes-issued counter (asked once per label when `perLabel`).
    init(snapshot: GatewaySnapshot, perLabel: Bool, issued: (String) -> Counter) {
        self.snapshot = snapshot
        if perLabel {
            var counters: [String: Counter] = [:]
            counters.reserveCapacity(snapshot.seeds.count)
            for label in snapshot.seeds.entries.keys { counters[label] = issued(label) }
            self.perLabel = counters
            self.total = nil
        } else {
            self.perLabel = [:]
            self.total = issued("")
        }
    }

    /// The codes-issued counter of `label` (a configured label).
    func issued(_ label: String) -> Counter {
        total ?? perLabel[label] ?? Counter()
    }
}
