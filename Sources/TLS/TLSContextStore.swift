import Synchronization

/// The TLS context new connections use, swapped whole by a reload: connections already open
/// keep the context they started with (each session holds its own reference).
///
/// ```swift
/// let store = TLSContextStore(try TLSContext(files, now: now))
/// store.current.makeSession(fd: fd)
/// store.replace(with: try TLSContext(files, now: now))   // after SIGHUP
/// ```
public final class TLSContextStore: Sendable {
    private let context: Mutex<TLSContext>

    public init(_ context: TLSContext) {
        self.context = Mutex(context)
    }

    public var current: TLSContext { context.withLock { $0 } }

    public func replace(with next: TLSContext) {
        context.withLock { $0 = next }
    }
}
