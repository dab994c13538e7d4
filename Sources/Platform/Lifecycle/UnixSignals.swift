#if canImport(Glibc)
import Glibc
#endif

/// Signals turned into events: they are blocked in the calling thread, and so in every thread
/// it starts afterwards, and one thread of their own takes them with `sigwait` and hands each
/// to `handler`. A signal that arrives before the handler runs stays pending: none is lost,
/// and none can kill the process with its default action. So this must run first, on the main
/// thread, before any other thread exists (the lifecycle does it before anything else).
///
/// ```swift
/// UnixSignals.start([.terminate, .interrupt]) { signal in lifecycle.handle(.signal(signal)) }
/// ```
public enum UnixSignals {
    /// Blocks `signals` and starts the thread that delivers them to `handler`, one at a time.
    public static func start(_ signals: [UnixSignal], handler: @escaping @Sendable (UnixSignal) -> Void) {
        var set = mask(signals)
        // pthread_sigmask returns the error instead of setting errno; with valid signals it
        // cannot fail.
        let rc = pthread_sigmask(SIG_BLOCK, &set, nil)
        precondition(rc == 0, "pthread_sigmask failed: \(rc)")
        let waited = set
        NamedThread.detach(name: "signals") {
            var set = waited
            while true {
                var number: Int32 = 0
                guard sigwait(&set, &number) == 0, let signal = UnixSignal(number: number) else { continue }
                handler(signal)
            }
        }
    }

    static func mask(_ signals: [UnixSignal]) -> sigset_t {
        var set = sigset_t()
        sigemptyset(&set)
        for signal in signals { sigaddset(&set, signal.number) }
        return set
    }
}
