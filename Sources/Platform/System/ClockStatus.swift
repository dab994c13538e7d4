import CSystem
#if canImport(Glibc)
import Glibc
#endif

/// The kernel's view of clock discipline, from `adjtimex()`: whether NTP (or PTP) keeps the
/// clock synchronized, and the kernel's error bounds. TOTP codes depend on the wall clock,
/// so health checks and metrics report it. Tests build values with the memberwise init or
/// `interpret(...)`; sandboxes usually report an unsynchronized clock.
///
/// ```swift
/// let clock = ClockStatus.read()
/// if !clock.synchronized { log.warning("clock_unsynchronized", ["max_error_s": .double(clock.maxErrorSeconds)]) }
/// ```
public struct ClockStatus: Sendable, Equatable {
    /// True when `adjtimex` returned neither `TIME_ERROR` nor a status with `STA_UNSYNC`.
    public var synchronized: Bool
    /// Maximum error bound (`maxerror`, microseconds in the kernel), in seconds.
    public var maxErrorSeconds: Double
    /// Estimated error (`esterror`), in seconds.
    public var estimatedErrorSeconds: Double
    /// The clock state: `ok`, `insert`, `delete`, `oop`, `wait`, `error`, `unknown(N)`, or
    /// `unavailable` when `adjtimex` itself failed.
    public var state: String

    public init(synchronized: Bool, maxErrorSeconds: Double, estimatedErrorSeconds: Double, state: String) {
        self.synchronized = synchronized
        self.maxErrorSeconds = maxErrorSeconds
        self.estimatedErrorSeconds = estimatedErrorSeconds
        self.state = state
    }

    /// Asks the kernel (read-only: `modes` is 0, so no privilege is needed). If the call
    /// fails (e.g. blocked by a seccomp filter) the clock is reported unsynchronized with
    /// infinite error, state `unavailable`.
    public static func read() -> ClockStatus {
        var tx = timex()
        tx.modes = 0
        let result = adjtimex(&tx)
        if result == -1 {
            return ClockStatus(
                synchronized: false, maxErrorSeconds: .infinity, estimatedErrorSeconds: .infinity,
                state: "unavailable")
        }
        return interpret(
            returnValue: result, status: Int32(truncatingIfNeeded: tx.status),
            maxErrorMicroseconds: Int(tx.maxerror), estimatedErrorMicroseconds: Int(tx.esterror))
    }

    /// Turns raw `adjtimex` results into a status (pure, for tests).
    public static func interpret(
        returnValue: Int32, status: Int32, maxErrorMicroseconds: Int, estimatedErrorMicroseconds: Int
    ) -> ClockStatus {
        let state: String
        switch returnValue {
        case TIME_OK: state = "ok"
        case TIME_INS: state = "insert"
        case TIME_DEL: state = "delete"
        case TIME_OOP: state = "oop"
        case TIME_WAIT: state = "wait"
        case TIME_ERROR: state = "error"
        default: state = "unknown(\(returnValue))"
        }
        let unsynchronized = returnValue == TIME_ERROR || (status & STA_UNSYNC) != 0
        return ClockStatus(
            synchronized: !unsynchronized,
            maxErrorSeconds: Double(maxErrorMicroseconds) / 1_000_000,
            estimatedErrorSeconds: Double(estimatedErrorMicroseconds) / 1_000_000,
            state: state)
    }
}
