#if canImport(Glibc)
import Glibc
#endif
import Synchronization
import CurlHTTP
import HTTPServer
import Platform

/// Runs message handlers concurrently, at most `maxConcurrent` at once, while keeping each
/// sender's messages in order (one at a time per key). A slow gateway call for one user then
/// delays only that user's later messages, not everyone's. Workers are plain threads started
/// on demand (the handlers block in libcurl, which would starve Dispatch's thread pool).
///
/// ```swift
/// let dispatcher = MessageDispatcher(maxConcurrent: 4)
/// dispatcher.submit(key: message.sender_id) { handler.handle(message) }
/// // shutdown:
/// let dropped = dispatcher.stop()
/// dispatcher.waitUntilIdle(timeout: .seconds(12))
/// ```
final class MessageDispatcher: Sendable {
    /// One unit of work and when it was submitted.
    private struct Job: Sendable {
        let submitted: ContinuousClock.Instant
        let work: @Sendable () -> Void
    }

    /// Lifecycle: taking work, or stopped (new work is ignored, queued work was dropped). Stopped
    /// by the leader's shutdown (`Leadership.Action.stopTakingEvents`), never by itself.
    enum Phase: Sendable, Equatable {
        case accepting
        case stopped
    }

    /// Queued jobs per key, keys ready to run, and the submit time of each running key's job.
    private struct State {
        var queued: [Int: [Job]] = [:]
        var ready: [Int] = []
        var running: [Int: ContinuousClock.Instant] = [:]
        var workers = 0
        var phase = Phase.accepting
    }

    let maxConcurrent: Int
    private let state = Mutex(State())

    init(maxConcurrent: Int) {
        self.maxConcurrent = max(1, maxConcurrent)
    }

    /// Queues `work` behind earlier work of the same `key`. Ignored once stopped.
    func submit(key: Int, _ work: @escaping @Sendable () -> Void) {
        let startWorker = state.withLock { s -> Bool in
            guard s.phase == .accepting else { return false }
            s.queued[key, default: []].append(Job(submitted: .now, work: work))
            if s.running[key] == nil, !s.ready.contains(key) { s.ready.append(key) }
            guard s.workers < maxConcurrent else { return false }
            s.workers += 1
            return true
        }
        if startWorker { NamedThread.detach(name: "dm-worker") { [self] in workerLoop() } }
    }

    /// Stops accepting work and drops what is queued (it is left to the next leader or
    /// catch-up); running work finishes. Returns how many jobs were dropped.
    @discardableResult
    func stop() -> Int {
        state.withLock { s in
            s.phase = .stopped
            let dropped = s.queued.values.reduce(0) { $0 + $1.count }
            s.queued.removeAll()
            s.ready.removeAll()
            return dropped
        }
    }

    /// Waits until nothing runs or is queued; false if `timeout` passed first.
    @discardableResult
    func waitUntilIdle(timeout: Duration) -> Bool {
        let deadline = ContinuousClock.now + timeout
        while true {
            if state.withLock({ $0.running.isEmpty && $0.queued.isEmpty }) { return true }
            if ContinuousClock.now >= deadline { return false }
            usleep(5_000)
        }
    }

    /// How long the oldest unfinished job has been waiting or running (nil: none). A handler
    /// that never returns shows up here even while others keep finishing.
    func oldestUnfinished(now: ContinuousClock.Instant = .now) -> Duration? {
        state.withLock { s in
            let oldest = (s.running.values + s.queued.values.compactMap { $0.first?.submitted }).min()
            return oldest.map { now - $0 }
        }
    }

    var runningCount: Int { state.withLock { $0.running.count } }
    var phase: Phase { state.withLock { $0.phase } }

    private func workerLoop() {
        while let (key, job) = next() {
            job.work()
            state.withLock { s in
                s.running[key] = nil
                if let rest = s.queued[key], !rest.isEmpty { s.ready.append(key) }
            }
        }
    }

    private func next() -> (Int, Job)? {
        state.withLock { s -> (Int, Job)? in
            guard !s.ready.isEmpty else {
                s.workers -= 1
                return nil
            }
            let key = s.ready.removeFirst()
            var jobs = s.queued[key] ?? []
            let job = jobs.removeFirst()
            s.queued[key] = jobs.isEmpty ? nil : jobs
            // A running job counts from when it was submitted, like a queued one.
            s.running[key] = job.submitted
            return (key, job)
        }
    }
}
