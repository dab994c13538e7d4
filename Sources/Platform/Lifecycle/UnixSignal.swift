#if canImport(Glibc)
import Glibc
#endif

/// The signals a program's lifecycle handles: SIGTERM and SIGINT stop it (the first gracefully,
/// a second at once), SIGHUP asks for a reload where the program has one.
///
/// ```swift
/// UnixSignal.terminate.name     // "SIGTERM"
/// UnixSignal(number: SIGHUP)    // .hangup
/// ```
public enum UnixSignal: Sendable, Hashable, CaseIterable {
    case terminate
    case interrupt
    case hangup

    public var number: Int32 {
        switch self {
        case .terminate: SIGTERM
        case .interrupt: SIGINT
        case .hangup: SIGHUP
        }
    }

    public var name: String {
        switch self {
        case .terminate: "SIGTERM"
        case .interrupt: "SIGINT"
        case .hangup: "SIGHUP"
        }
    }

    public init?(number: Int32) {
        guard let known = Self.allCases.first(where: { $0.number == number }) else { return nil }
        self = known
    }

    /// SIGTERM and SIGINT: a request to stop.
    public var stops: Bool { self != .hangup }
}
