/// Why the process ends, which decides its exit code: the one place the code is chosen.
///
/// ```swift
/// ProcessExit.stopped(signal: "SIGTERM").code   // 0
/// ProcessExit.stoppedNow(signal: "SIGTERM").code // 1
/// ```
public enum ProcessExit: Sendable, Equatable {
    /// Every service stopped gracefully after the first SIGTERM/SIGINT (0).
    case stopped(signal: String)
    /// A second signal while stopping (1).
    case stoppedNow(signal: String)
    /// The stop deadline passed with services still stopping (1).
    case deadlinePassed(signal: String)
    /// A service could not start or go on (its code).
    case failed(ServiceFailure)

    public var code: Int32 {
        switch self {
        case .stopped: 0
        case .stoppedNow, .deadlinePassed: 1
        case .failed(let failure): failure.code
        }
    }
}
