#if canImport(Glibc)
import Glibc
#endif
import CSystem
import Platform

/// The epoll calls the event loops need, wrapped once: an instance owns an epoll descriptor
/// and a buffer of ready events. Registrations carry the descriptor number as their data.
/// Used by one thread only.
///
/// ```swift
/// let poller = try Epoll(capacity: 256)
/// try poller.add(fd, events: Epoll.readable)
/// let ready = poller.wait(timeoutMilliseconds: 100)
/// for i in 0..<ready { let (fd, events) = poller.event(at: i) }
/// ```
final class Epoll {
    static let readable = EPOLLIN.rawValue
    static let writable = EPOLLOUT.rawValue
    static let exclusive = EPOLLEXCLUSIVE.rawValue
    static let errorOrHangup = EPOLLERR.rawValue | EPOLLHUP.rawValue

    let fd: Int32
    private let events: UnsafeMutablePointer<epoll_event>
    private let capacity: Int

    init(capacity: Int) throws(SystemError) {
        fd = try Syscall.call("epoll_create1") { epoll_create1(Int32(EPOLL_CLOEXEC)) }
        self.capacity = capacity
        events = .allocate(capacity: capacity)
    }

    deinit {
        events.deallocate()
        Syscall.close(fd)
    }

    func add(_ target: Int32, events mask: UInt32) throws(SystemError) {
        try control(EPOLL_CTL_ADD, target, mask, "epoll_ctl(ADD)")
    }

    func modify(_ target: Int32, events mask: UInt32) throws(SystemError) {
        try control(EPOLL_CTL_MOD, target, mask, "epoll_ctl(MOD)")
    }

    func remove(_ target: Int32) {
        var event = epoll_event()
        _ = epoll_ctl(fd, EPOLL_CTL_DEL, target, &event)
    }

    private func control(_ op: Int32, _ target: Int32, _ mask: UInt32, _ name: String) throws(SystemError) {
        var event = epoll_event()
        event.events = mask
        event.data.fd = target
        try Syscall.call(name) { epoll_ctl(fd, op, target, &event) }
    }

    /// Waits for events; returns how many are ready (0 on timeout or EINTR).
    /// A negative timeout waits until something happens.
    func wait(timeoutMilliseconds: Int32) -> Int {
        let n = epoll_wait(fd, events, Int32(capacity), timeoutMilliseconds)
        return n < 0 ? 0 : Int(n)
    }

    @inline(__always)
    func event(at index: Int) -> (fd: Int32, events: UInt32) {
        let event = events[index]
        return (event.data.fd, event.events)
    }
}

@available(*, unavailable)
extension Epoll: Sendable {}
