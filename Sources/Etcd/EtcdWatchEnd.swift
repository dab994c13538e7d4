/// How a watch ended without an error.
///
/// ```swift
/// var request = EtcdWatchRequest(range: .key(leaderKey), startRevision: next)
/// while case .interrupted(let resumeFrom) = try client.watch(request, cancellation: cancel, onEvents: handle) {
///     request.startRevision = resumeFrom
/// }
/// ```
public enum EtcdWatchEnd: Sendable, Equatable {
    /// The cancellation was cancelled.
    case cancelled
    /// `onEvents` returned false; `resumeFrom` is the revision after the last event delivered.
    case stoppedByHandler(resumeFrom: Int64)
    /// The stream ended (member gone, `maxDuration` reached); watch again from `resumeFrom`.
    case interrupted(resumeFrom: Int64)
}
