#if canImport(Glibc)
import Glibc
#endif

/// Which thread owns an event loop's state, checked in debug builds: the loop claims it when its
/// thread starts, and every loop-only method asserts it runs there (swift-nio's
/// `assertInEventLoop`). Release builds pay nothing.
///
/// ```swift
/// var owner = LoopThreadOwnership()
/// owner.claim()            // first thing on the loop thread
/// owner.assertOnOwner()    // in every loop-only method
/// ```
struct LoopThreadOwnership {
    private var owner: pthread_t? = nil

    /// Makes the calling thread the owner.
    mutating func claim() {
        owner = pthread_self()
    }

    @inline(__always)
    func assertOnOwner(file: StaticString = #fileID, line: UInt = #line) {
        assert(owner.map { pthread_equal($0, pthread_self()) != 0 } ?? false,
            "event-loop state touched off its loop thread", file: file, line: line)
    }
}
