/// Which messages this leader has seen and which of them are settled, so the watermark only
/// moves past messages that were really dealt with: never past one still queued, being
/// answered, left behind by a shutdown, or whose reply failed (that one waits for a catch-up).
/// A plain value, kept behind the session's lock.
///
/// ```swift
/// var progress = MessageProgress(watermark: 3031)
/// progress.claim(3032); progress.claim(3033)
/// progress.settle(3033)
/// progress.advance()      // nil: 3032 is still open
/// progress.settle(3032)
/// progress.advance()      // 3033
/// ```
struct MessageProgress: Sendable {
    private(set) var watermark: Int?
    /// Highest message id seen (the watermark's target when nothing is open).
    private(set) var highest: Int?
    /// Seen and not settled: queued, being answered, or failed.
    private(set) var open: Set<Int> = []
    /// Open messages whose reply failed: the next catch-up may claim them again.
    private(set) var failed: Set<Int> = []
    /// Every id claimed, so a message met twice (queue and catch-up) is handled once. Ids are
    /// kept after the watermark passes them, in case the queue delivers one late.
    private var seen: Set<Int> = []
    private static let seenLimit = 20_000

    init(watermark: Int?) {
        self.watermark = watermark
        highest = watermark
    }

    /// Takes `id` for handling: true if it was never seen, or its reply had failed (a retry).
    @discardableResult
    mutating func claim(_ id: Int) -> Bool {
        highest = max(highest ?? id, id)
        if failed.remove(id) != nil { return true }
        guard seen.insert(id).inserted else { return false }
        open.insert(id)
        if seen.count > Self.seenLimit {
            // Forget the oldest half; they are far below anything still in flight.
            let cut = seen.sorted()[Self.seenLimit / 2]
            seen = seen.filter { $0 >= cut || open.contains($0) }
        }
        return true
    }

    /// Whether `id` is being handled or was handled here (seen, and not waiting for a retry).
    func isTaken(_ id: Int) -> Bool { seen.contains(id) && !failed.contains(id) }

    /// Whether `id` is queued or being answered right now.
    func isInProgress(_ id: Int) -> Bool { open.contains(id) && !failed.contains(id) }

    mutating func settle(_ id: Int) {
        open.remove(id)
        failed.remove(id)
    }

    /// The reply to `id` failed: it stays open (the watermark waits) until a catch-up retries it.
    mutating func fail(_ id: Int) {
        guard open.contains(id) else { return }
        failed.insert(id)
    }

    /// Moves the watermark to just below the oldest open message, or to the highest id seen
    /// when nothing is open. Returns the new watermark if it moved.
    mutating func advance() -> Int? {
        guard let target = open.min().map({ $0 - 1 }) ?? highest else { return nil }
        if let watermark, watermark >= target { return nil }
        watermark = target
        return target
    }

    /// Sets the watermark where there was none (first start: register's `max_message_id`).
    mutating func initialise(watermark id: Int) {
        guard watermark == nil else { return }
        watermark = id
        highest = max(highest ?? id, id)
    }
}
