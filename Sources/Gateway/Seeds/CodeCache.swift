import Synchronization
import Platform

/// The codes of one seed for its most recent step (and the step after), shared by all threads.
/// Holds derived codes only, never the secret. Non-copyable, so it lives inside its `SeedEntry`
/// (one allocation per label instead of two).
///
/// ```swift
/// let pair = cache.codes(for: step) { (compute(step), compute(step + 1)) }
/// ```
struct CodeCache: ~Copyable, Sendable {
    /// The step and its two codes.
    // Internal, not private: Swift 6.3 fails to link a private type nested in a
    // non-copyable struct stored in a class of another file.
    struct Entry {
        var step: UInt64
        var current: String
        var next: String
    }

    private let entry = Mutex<Entry?>(nil)

    init() {}

    func codes(for step: UInt64, compute: () -> (String, String)) -> (current: String, next: String) {
        if let hit = entry.withLock({ e -> (String, String)? in
            guard let e, e.step == step else { return nil }
            return (e.current, e.next)
        }) {
            return hit
        }
        // Computed outside the lock; two threads racing at a step change both compute the same codes.
        let (current, next) = compute()
        entry.withLock { e in
            if e == nil || e!.step < step { e = Entry(step: step, current: current, next: next) }
        }
        return (current, next)
    }
}
