#if canImport(Glibc)
import Glibc
#endif

/// The one way this code starts a thread: a pthread (Foundation's `Thread` would pull
/// Foundation in) named after its job, so it shows in `top -H`, `ps -L`, `gdb` and core
/// dumps. The name is written to `/proc/thread-self/comm` (Glibc's Swift module does not
/// export `pthread_setname_np`); Linux keeps 15 bytes, and a failure leaves the inherited name.
///
/// ```swift
/// NamedThread.detach(name: "leader-lock") { lock.waitForLock() }
/// let loop = try NamedThread.joinable(name: "http-loop-0") { loop.run() }
/// pthread_join(loop, nil)
/// ```
public enum NamedThread {
    /// Runs `body` on a new detached thread. Running out of threads here is fatal: these are
    /// the few long-lived threads a program needs to work at all.
    public static func detach(name: String, _ body: @escaping @Sendable () -> Void) {
        do {
            let thread = try joinable(name: name, body)
            pthread_detach(thread)
        } catch {
            preconditionFailure("pthread_create(\(name)) failed: \(error); out of threads or memory")
        }
    }

    /// Runs `body` on a new joinable thread; the caller joins it.
    public static func joinable(name: String, _ body: @escaping @Sendable () -> Void) throws(SystemError) -> pthread_t {
        let box = Unmanaged.passRetained(Box {
            nameCurrentThread(name)
            body()
        }).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { argument in
            Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue().body()
            return nil
        }, box)
        if rc != 0 {
            Unmanaged<Box>.fromOpaque(box).release()
            throw SystemError(call: "pthread_create", errno: rc)
        }
        return thread
    }

    /// Carries the body through `pthread_create`'s single pointer argument.
    private final class Box: Sendable {
        let body: @Sendable () -> Void
        init(_ body: @escaping @Sendable () -> Void) { self.body = body }
    }

    private static func nameCurrentThread(_ name: String) {
        let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return }
        let bytes = Array(name.utf8.prefix(15))
        _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        close(fd)
    }
}
