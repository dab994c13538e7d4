#if canImport(Glibc)
import Glibc
#endif

/// Starts a detached, named pthread (the name shows in `top -H`, `ps -L` and core dumps) for
/// the election's long-lived blocking loops. Foundation's `Thread` would pull Foundation in.
///
/// ```swift
/// EtcdThread.spawn(name: "etcd-election") { election.run() }
/// ```
enum EtcdThread {
    static func spawn(name: String, _ body: @escaping @Sendable () -> Void) {
        final class Box: Sendable {
            let body: @Sendable () -> Void
            init(body: @escaping @Sendable () -> Void) { self.body = body }
        }
        let box = Unmanaged.passRetained(Box(body: {
            nameCurrentThread(name)
            body()
        })).toOpaque()
        var thread = pthread_t()
        let rc = pthread_create(&thread, nil, { argument in
            Unmanaged<Box>.fromOpaque(argument!).takeRetainedValue().body()
            return nil
        }, box)
        precondition(rc == 0, "pthread_create(\(name)) failed with \(rc): out of threads or memory")
        pthread_detach(thread)
    }
}

/// Names the calling thread through `/proc/thread-self/comm` (Glibc's module does not export
/// `pthread_setname_np`). Linux keeps 15 bytes; a failure leaves the inherited name.
private func nameCurrentThread(_ name: String) {
    let fd = open("/proc/thread-self/comm", O_WRONLY | O_CLOEXEC)
    guard fd >= 0 else { return }
    let bytes = Array(name.utf8.prefix(15))
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
}
