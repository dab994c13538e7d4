import Synchronization

/// Which codes went to whom in the current time steps, so that a second person asking within
/// one step gets the next code instead: a verifier must refuse a code used twice (RFC 6238
/// section 5.2), and the second login would fail for no visible reason. Kept in memory by the
/// leader only (a new leader starts blank: the steps are seconds long).
///
/// ```swift
/// if guard.takenByOther(label: "prod", expiresAt: c.expiresAt, user: 31) { /* hand out the next code */ }
/// guard.record(label: "prod", expiresAt: c.expiresAt, user: 31)
/// ```
final class ReuseGuard: Sendable {
    /// Users per label per code, a code named by the unix second it expires.
    private let given = Mutex<[String: [Int64: Set<Int>]]>([:])
    private let wallClock: @Sendable () -> Int64

    init(wallClock: @escaping @Sendable () -> Int64) {
        self.wallClock = wallClock
    }

    /// Whether the code of `label` that expires at `expiresAt` went to someone other than `user`.
    func takenByOther(label: String, expiresAt: Int64, user: Int) -> Bool {
        given.withLock { !($0[label]?[expiresAt]?.subtracting([user]).isEmpty ?? true) }
    }

    func record(label: String, expiresAt: Int64, user: Int) {
        let now = wallClock()
        given.withLock { g in
            g[label, default: [:]][expiresAt, default: []].insert(user)
            // Codes that expired are of no more interest.
            for (l, steps) in g {
                let live = steps.filter { $0.key > now }
                g[l] = live.isEmpty ? nil : live
            }
        }
    }
}
