#if canImport(Glibc)
import Glibc
#endif
import HTTPServer

/// Starts a detached pthread (Foundation's `Thread` would pull Foundation in); for the few
/// long-lived threads that block by design: the lock waiter and the Zulip long-poll loop.
///
/// ```swift
/// BotThread.spawn(name: "leader-lock") { lock.waitForLock() }
/// ```
enum BotThread {
    static func spawn(name: String, _ body: @escaping @Sendable () -> Void) {
        final class Box: Sendable {
            let body: @Sendable () -> Void
            init(body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let box = Unmanaged.passRetained(Box(body: body)).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { arg in
            let box = Unmanaged<Box>.fromOpaque(arg!).takeRetainedValue()
            box.body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create(\(name)) failed with \(rc): out of threads or memory")
        pthread_detach(thread)
    }
}
